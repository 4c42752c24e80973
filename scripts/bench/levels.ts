/**
 * Issue 3 benchmarks: `walship snapshot` of a large database against `restic backup` of the same file
 * into a local repository, and restore from a replica holding a day of L0..L3 + L9 files against a
 * restore from its L0 files alone (the day is simulated with a fake clock, so it takes a minute or two).
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Database } from "../../lib/engine/database.ts";
import { Replica } from "../../lib/engine/replica.ts";
import { Replicator } from "../../lib/engine/replicator.ts";
import { restoreToFile } from "../../lib/engine/restore.ts";
import { listAllLevels, planFromListings } from "../../lib/engine/restore_plan.ts";
import { DEFAULT_SCHEDULE } from "../../lib/engine/schedule.ts";
import { FileStore } from "../../lib/storage/file.ts";
import type { ReplicaStore } from "../../lib/storage/store.ts";
import { walshipArgs } from "../../tests/helpers/cli.ts";
import { type Figure, makeBigDatabase, peakRssOf, timeCommand } from "./core.ts";
import { installRestic } from "./restic.ts";

/** `walship snapshot` into an empty file replica against `restic backup` into an empty repository. */
export async function benchSnapshot(sizeMiB: number): Promise<Figure[]> {
  const restic = await installRestic();
  const dir = await Deno.makeTempDir({ prefix: "walship-bench-snapshot-" });
  const dbPath = makeBigDatabase(dir, sizeMiB);
  const replica = join(dir, "replica");
  const repo = join(dir, "restic");
  const resticEnv = {
    RESTIC_PASSWORD: "bench",
    RESTIC_REPOSITORY: repo,
    RESTIC_CACHE_DIR: join(dir, "cache"),
  };
  const resetRestic = async () => {
    await Deno.remove(repo, { recursive: true }).catch(() => {});
    const init = await new Deno.Command(restic, { args: ["init"], env: resticEnv, stdout: "null" })
      .output();
    if (!init.success) throw new Error("restic init failed");
  };
  const snapshotCmd = [Deno.execPath(), ...walshipArgs(["snapshot", dbPath, `file://${replica}`])];
  const resetReplica = async () => {
    await Deno.remove(replica, { recursive: true }).catch(() => {});
    await Deno.remove(join(dir, ".big.db-walship"), { recursive: true }).catch(() => {});
  };
  const resticCmd = [restic, "backup", "--quiet", dbPath];
  const walshipMs = await timeCommand(snapshotCmd, resetReplica);
  const resticMs = await timeCommand(resticCmd, resetRestic, resticEnv);
  const steady = await steadySnapshots(dbPath, snapshotCmd, resticCmd, resticEnv);
  await resetReplica();
  const walshipRss = await peakRssOf(snapshotCmd);
  await resetRestic();
  const resticRss = await peakRssOf(resticCmd, resticEnv);
  const replicaBytes = (await new FileStore(replica).list(9)).reduce((n, f) => n + f.sizeBytes, 0);
  const mib = ((await Deno.stat(dbPath)).size / 2 ** 20).toFixed(0);
  await Deno.remove(dir, { recursive: true });
  return [
    {
      name: `snapshot ${mib} MiB`,
      value: walshipMs,
      unit: "ms",
      peer: { name: "restic backup", value: resticMs },
    },
    {
      name: `snapshot ${mib} MiB peak RSS`,
      value: walshipRss,
      unit: "MiB",
      peer: { name: "restic backup", value: resticRss },
    },
    { name: `snapshot ${mib} MiB stored`, value: replicaBytes / 2 ** 20, unit: "MiB" },
    {
      name: `snapshot ${mib} MiB again, one row later (checkpointed, state kept)`,
      value: steady.walshipMs,
      unit: "ms",
      peer: { name: "restic backup (incremental)", value: steady.resticMs },
    },
  ];
}

/**
 * The cron case after the first run: an application keeps its connection open, commits a row and
 * checkpoints between runs (without the checkpoint restic would see an unchanged file and skip it, the
 * row being in the WAL it does not back up). walship keeps its state directory, restic its repository
 * (it re-reads the file and stores the changed chunks). Both start from the state the first runs left.
 */
async function steadySnapshots(
  dbPath: string,
  snapshotCmd: string[],
  resticCmd: string[],
  resticEnv: Record<string, string>,
): Promise<{ walshipMs: number; resticMs: number }> {
  const app = new DatabaseSync(dbPath);
  const insert = app.prepare("INSERT INTO t(v) VALUES (randomblob(1000))");
  const commitRow = () => {
    insert.run();
    app.exec("PRAGMA wal_checkpoint(PASSIVE)");
    return Promise.resolve();
  };
  try {
    // Untimed: the WAL went away with the last connection, so this run starts walship's state again.
    await commitRow();
    const first = await new Deno.Command(snapshotCmd[0]!, { args: snapshotCmd.slice(1), stdout: "null" })
      .output();
    if (!first.success) throw new Error("walship snapshot failed");
    const walshipMs = await timeCommand(snapshotCmd, commitRow);
    const resticMs = await timeCommand(resticCmd, commitRow, resticEnv);
    return { walshipMs, resticMs };
  } finally {
    app.close();
  }
}

/**
 * A simulated day of writes (one transaction every `stepMs`) replicated with the default levels to one
 * replica and as bare L0 files to another; then the latest state restored from each.
 */
export async function benchLevelRestore(stepMs = 60_000): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "walship-bench-levels-" });
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath);
  app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, n INTEGER)");
  let clock = Date.UTC(2026, 10, 21, 6, 0, 0);
  const now = () => clock;
  const db = await Database.open(dbPath, { now, checkpointIntervalMs: 0 });
  const store = new FileStore(join(dir, "replica"));
  const l0Store = new FileStore(join(dir, "l0-only"));
  const replicas = [new Replica(db, store, { now }), new Replica(db, l0Only(l0Store), { now })];
  const replicator = new Replicator(db, replicas, { schedule: DEFAULT_SCHEDULE, now });
  const insert = app.prepare("INSERT INTO t(v, n) VALUES (randomblob(1000), ?)");
  const update = app.prepare("UPDATE t SET n = n + 1 WHERE id % 97 = ?");
  const end = clock + 86400_000;
  for (let step = 0; clock < end; step++) {
    clock += stepMs;
    app.exec("BEGIN");
    for (let i = 0; i < 4; i++) insert.run(step);
    update.run(step % 97);
    app.exec("COMMIT");
    await replicator.syncOnce({ maintain: true, enforceRetention: true });
  }
  await db.close();
  app.close();
  const levels = await listAllLevels(store);
  const allPlan = planFromListings(levels, {});
  const l0Plan = planFromListings(new Map([[0, await l0Store.list(0)]]), {});
  const time = async (plan: typeof allPlan) => {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const out = join(dir, `out-${i}.db`);
      const t0 = performance.now();
      await restoreToFile(plan === l0Plan ? l0Store : store, plan, out);
      runs.push(performance.now() - t0);
      await Deno.remove(out);
    }
    return runs.sort((a, b) => a - b)[1]!;
  };
  const levelsMs = await time(allPlan);
  const l0Ms = await time(l0Plan);
  assert(l0Plan.length > 1000 && allPlan.length < 20, "the two plans differ as intended");
  const counts = [...levels].filter(([, f]) => f.length > 0).sort(([a], [b]) => a - b)
    .map(([l, f]) => `L${l}:${f.length}`).join(" ");
  await Deno.remove(dir, { recursive: true });
  return [
    {
      name: `restore after 1 day (${counts}), ${allPlan.length} files`,
      value: levelsMs,
      unit: "ms",
      peer: { name: `L0 only, ${l0Plan.length} files`, value: l0Ms },
    },
  ];
}

/**
 * The peer replica: receives every L0 file and nothing else, and shows the replicator an empty listing,
 * so nothing is compacted or removed from it (a replica as it would be without levels or retention).
 */
function l0Only(inner: ReplicaStore): ReplicaStore {
  return {
    list: () => Promise.resolve([]),
    open: (file, range, signal) => inner.open(file, range, signal),
    write: (file, body, signal) =>
      file.level === 0
        ? inner.write(file, body, signal)
        : Promise.resolve({ ...file, sizeBytes: body.sizeBytes }),
    remove: () => Promise.resolve(),
    describe: () => `${inner.describe()} (L0 only)`,
  };
}

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark setup: ${what}`);
}
