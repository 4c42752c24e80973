/**
 * Levels, snapshots and retention end to end, on a fake clock: a writer runs for a minute of fake time
 * with 1s/2s/4s compaction levels, 10s snapshots and a 20s retention window; restores at the latest
 * state, at TXIDs and at timestamps (many of them only reachable through compacted files once their L0
 * files are gone) must equal the source as it was then, and read few files.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Database } from "../lib/engine/database.ts";
import { Replica } from "../lib/engine/replica.ts";
import { Replicator } from "../lib/engine/replicator.ts";
import { restoreToFile } from "../lib/engine/restore.ts";
import { listAllLevels, planFromListings, type RestoreTarget } from "../lib/engine/restore_plan.ts";
import type { MaintenanceSchedule } from "../lib/engine/schedule.ts";
import { FileStore } from "../lib/storage/file.ts";
import { type LtxFileInfo, SNAPSHOT_LEVEL } from "../lib/storage/store.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";

const SCHEDULE: MaintenanceSchedule = {
  levelIntervalsMs: [1000, 2000, 4000],
  snapshotIntervalMs: 10_000,
  retentionCheckIntervalMs: 1000,
  retentionEnabled: true,
  retention: { snapshotRetentionMs: 20_000, l0RetentionMs: 3000, keep: {} },
};
const STEP_MS = 250;

interface State {
  txid: bigint;
  at: number;
  digest: string;
}

Deno.test("a minute of writes with 1s/2s/4s levels: every promised point restores from few files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-levels-" });
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath, { timeout: 2000 });
  app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)");
  let clock = Date.UTC(2026, 10, 22, 12, 0, 0, 100);
  const now = () => clock;
  const db = await Database.open(dbPath, { now, minCheckpointPageCount: 50, checkpointIntervalMs: 0 });
  const store = new FileStore(join(dir, "replica"));
  const replicator = new Replicator(db, [new Replica(db, store, { now })], { schedule: SCHEDULE, now });
  const states: State[] = [];
  const start = clock;
  try {
    for (let step = 0; clock - start < 60_000; step++) {
      clock += STEP_MS;
      app.exec("BEGIN");
      app.prepare("INSERT INTO t(v, n) VALUES (?, ?)").run(`row ${step} `.repeat(20), step);
      app.prepare("UPDATE t SET n = n + 1 WHERE id % 7 = ?").run(step % 7);
      if (step % 13 === 0) app.prepare("DELETE FROM t WHERE id % 11 = ?").run(step % 11);
      app.exec("COMMIT");
      await replicator.syncOnce({ maintain: true, enforceRetention: true });
      states.push({ txid: db.txid, at: clock, digest: dumpDigest(dbPath).digest });
    }
  } finally {
    await db.close();
    app.close();
  }
  const levels = await listAllLevels(store);
  const count = (level: number) => (levels.get(level) ?? []).length;
  const last = states.at(-1)!;

  // Compaction happened at every level and old L0 files are gone.
  for (const level of [1, 2, 3]) assert.ok(count(level) > 0, `L${level} has files`);
  const oldestL0 = levels.get(0)![0]!;
  assert.ok(oldestL0.minTxid > last.txid - 30n, `L0 starts at ${oldestL0.minTxid} of ${last.txid}`);
  // Snapshots every 10s, kept for 20s plus the window's base: at most 4 remain, and none from the start.
  const snapshots = levels.get(SNAPSHOT_LEVEL)!;
  assert.ok(snapshots.length >= 2 && snapshots.length <= 4, `${snapshots.length} snapshots`);
  assert.ok(snapshots[0]!.createdAt >= clock - 30_000, "old snapshots removed");
  // Levels below the window's base snapshot were pruned.
  const base = snapshots[0]!;
  for (const level of [1, 2, 3]) {
    const below = levels.get(level)!.slice(0, -1).filter((f) => f.maxTxid <= base.maxTxid);
    assert.deepEqual(below, [], `L${level} keeps nothing the base snapshot covers`);
  }

  const byTxid = new Map(states.map((s) => [s.txid, s]));
  const restoreAndCheck = async (target: RestoreTarget, label: string): Promise<LtxFileInfo[]> => {
    const plan = planFromListings(levels, target);
    const out = join(dir, `out-${label}.db`);
    const result = await restoreToFile(store, plan, out, { integrityCheck: "quick" });
    const expected = byTxid.get(result.txid);
    assert.ok(expected, `${label}: TXID ${result.txid} was a recorded state`);
    assert.equal(dumpDigest(out).digest, expected.digest, `${label}: restored state equals the source then`);
    if (target.txid !== undefined) assert.equal(result.txid, target.txid, `${label}: exact TXID`);
    if (target.timestamp !== undefined) {
      assert.ok(expected.at < target.timestamp, `${label}: before the time`);
    }
    await Deno.remove(out);
    return plan;
  };

  // Latest: a snapshot plus at most one file per level.
  const latest = await restoreAndCheck({}, "latest");
  assert.ok(latest.length <= 1 + 4 + 2, `latest plan has ${latest.length} files`);
  assert.equal(latest.at(-1)!.maxTxid, last.txid);

  // A dozen TXIDs at file boundaries of the compacted levels, inside the window; most below L0's start.
  const boundaries = [1, 2, 3].flatMap((l) => levels.get(l)!.map((f) => f.maxTxid))
    .filter((t) => t >= base.maxTxid);
  const txids = [...new Set(boundaries)].sort((a, b) => (a < b ? -1 : 1));
  const picked = txids.filter((_, i) => i % Math.max(1, Math.floor(txids.length / 12)) === 0).slice(0, 12);
  assert.ok(picked.length >= 10, `enough TXID targets (${picked.length})`);
  assert.ok(picked.filter((t) => t < oldestL0.minTxid).length >= 8, "most targets have no L0 file left");
  for (const txid of picked) {
    const plan = await restoreAndCheck({ txid }, `txid-${txid}`);
    assert.ok(plan.length <= 8, `plan for ${txid} has ${plan.length} files`);
  }

  // A dozen timestamps spread over the retention window: every one of them restores.
  for (let i = 0; i < 12; i++) {
    const t = clock - SCHEDULE.retention.snapshotRetentionMs + Math.round((i + 0.5) * 20_000 / 12);
    await restoreAndCheck({ timestamp: t }, `time-${i}`);
  }
  await Deno.remove(dir, { recursive: true });
});
