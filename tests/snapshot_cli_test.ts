/**
 * `walship snapshot`, the cron backup: against a database a writer keeps changing, beside a running
 * `replicate` of the same database, with a keep-daily policy over simulated days, and its failures.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { restoreToFile } from "../lib/engine/restore.ts";
import { listAllLevels, planFromListings } from "../lib/engine/restore_plan.ts";
import { DEFAULT_SCHEDULE } from "../lib/engine/schedule.ts";
import { runSnapshotJob } from "../lib/engine/snapshot_job.ts";
import { FileStore } from "../lib/storage/file.ts";
import { SNAPSHOT_LEVEL } from "../lib/storage/store.ts";
import { runWalship, sleep, waitFor, WalshipProcess } from "./helpers/cli.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";

/** A writer committing 10 rows per transaction, payload derived from the id, until stopped. */
class Writer {
  readonly db: DatabaseSync;
  #running = true;
  #done: Promise<void>;
  constructor(path: string) {
    const db = new DatabaseSync(path, { timeout: 5000 });
    this.db = db;
    db.exec("PRAGMA journal_mode = wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)");
    const insert = db.prepare("INSERT INTO t(id, v) VALUES (?, ?)");
    this.#done = (async () => {
      let id = (db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
      while (this.#running) {
        db.exec("BEGIN");
        for (let i = 0; i < 10; i++) insert.run(++id, payload(id));
        db.exec("COMMIT");
        await sleep(3);
      }
    })();
  }
  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

function payload(id: number): string {
  return `row-${id}-`.repeat(1 + (id % 40));
}

/** A restored copy holds whole transactions only: ids 1..n with n a multiple of 10, payloads intact. */
function assertConsistent(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    assert.equal(
      (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check,
      "ok",
    );
    const rows = db.prepare("SELECT id, v FROM t ORDER BY id").all() as { id: number; v: string }[];
    assert.equal(rows.length % 10, 0, "whole transactions only");
    rows.forEach((r, i) => {
      assert.equal(r.id, i + 1);
      assert.equal(r.v, payload(r.id));
    });
    return rows.length;
  } finally {
    db.close();
  }
}

Deno.test("snapshot of a live database, three times, restores consistent states; then the final one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-snap-" });
  const dbPath = join(dir, "app.db");
  const url = `file://${join(dir, "backups")}`;
  const writer = new Writer(dbPath);
  const restoredRows: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      await sleep(150);
      const res = await runWalship(["snapshot", dbPath, url]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /^snapshot [0-9a-f]{16} of .* in file:\/\/.* \(\d+ bytes, \d+ ms\)\n$/);
      const out = join(dir, `restored-${i}.db`);
      const restore = await runWalship(["restore", "-o", out, url]);
      assert.equal(restore.code, 0, restore.stderr);
      restoredRows.push(assertConsistent(out));
    }
  } finally {
    await writer.stop();
  }
  assert.ok(restoredRows[0]! > 0 && restoredRows[2]! > restoredRows[0]!, `growing: ${restoredRows}`);
  const final = await runWalship(["snapshot", "-json", dbPath, url]);
  assert.equal(final.code, 0, final.stderr);
  const summary = JSON.parse(final.stdout);
  assert.equal(summary.replicas[0].unchanged, false);
  const out = join(dir, "final.db");
  assert.equal((await runWalship(["restore", "-o", out, url])).code, 0);
  assert.equal(dumpDigest(out).digest, dumpDigest(dbPath).digest);
  // Nothing changed since: the next run uploads nothing and says so.
  const again = await runWalship(["snapshot", dbPath, url]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^unchanged since snapshot /);
  assert.equal((await new FileStore(join(dir, "backups")).list(SNAPSHOT_LEVEL)).length, 4);
  writer.db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("snapshot beside a running replicate of the same database: both replicas restore exactly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-snap-repl-" });
  const dbPath = join(dir, "app.db");
  const streamed = join(dir, "streamed");
  const backups = join(dir, "backups");
  const writer = new Writer(dbPath);
  const replicate = new WalshipProcess([
    "replicate",
    "-sync-interval",
    "100ms",
    dbPath,
    `file://${streamed}`,
  ]);
  try {
    await waitFor("first L0 file", async () => (await new FileStore(streamed).list(0)).length > 0);
    for (let i = 0; i < 3; i++) {
      await sleep(200);
      // Into the streamed replica itself and into a separate one.
      const res = await runWalship(["snapshot", dbPath, `file://${streamed}`, `file://${backups}`]);
      assert.equal(res.code, 0, res.stderr);
    }
    // A second replicate of the same database is refused.
    const second = await runWalship(["replicate", "-once", dbPath, `file://${join(dir, "other")}`]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^error: Another walship replicate is already running for /);
  } finally {
    await writer.stop();
  }
  assert.equal((await runWalship(["snapshot", dbPath, `file://${backups}`])).code, 0);
  await sleep(400);
  const stopped = await replicate.stop("SIGTERM");
  assert.equal(stopped.code, 0, stopped.stderr);
  const expected = dumpDigest(dbPath).digest;
  for (const replica of [streamed, backups]) {
    const out = join(dir, `from-${replica.split("/").at(-1)}.db`);
    const res = await runWalship(["restore", "-o", out, `file://${replica}`]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(dumpDigest(out).digest, expected, `restore from ${replica}`);
  }
  // The streamed chain is whole: every TXID once, across L0 files shipped by either process.
  const l0 = await new FileStore(streamed).list(0);
  for (let i = 1; i < l0.length; i++) assert.equal(l0[i]!.minTxid, l0[i - 1]!.maxTxid + 1n);
  writer.db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cron every 2 hours for 10 days with keep-daily 7: the right snapshots stay and each restores", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-cron-" });
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath);
  app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  const store = new FileStore(join(dir, "backups"));
  const schedule = {
    ...DEFAULT_SCHEDULE,
    retention: { snapshotRetentionMs: 3 * 3600_000, l0RetentionMs: 0, keep: { daily: 7 } },
  };
  let clock = Date.UTC(2026, 10, 1, 0, 30);
  const digests = new Map<bigint, string>();
  for (let run = 0; run < 10 * 12; run++) {
    app.prepare("INSERT INTO t(v) VALUES (?)").run(`run ${run}`);
    const [result] = await runSnapshotJob(dbPath, [store], {
      enforceRetention: true,
      schedule,
      now: () => clock,
    });
    assert.equal(result!.error, undefined);
    digests.set(result!.txid, dumpDigest(dbPath).digest);
    clock += 2 * 3600_000;
  }
  app.close();
  const now = clock - 2 * 3600_000; // the last run
  const snapshots = await store.list(SNAPSHOT_LEVEL);
  const days = snapshots.map((s) => new Date(s.createdAt).toISOString().slice(0, 10));
  // Kept: the newest snapshot of each of the 7 newest days, every one inside the 3h window (22:30 and
  // 20:30 of the last day), and the window's base, the newest before it (18:30), so all of it restores.
  assert.deepEqual(
    [...new Set(days)],
    [4, 5, 6, 7, 8, 9, 10].map((d) => `2026-11-${String(d).padStart(2, "0")}`),
  );
  for (const day of new Set(days)) {
    const ofDay = snapshots.filter((s) => new Date(s.createdAt).toISOString().startsWith(day));
    assert.equal(ofDay.length, day === "2026-11-10" ? 3 : 1, day);
    const newest = Math.max(...ofDay.map((s) => s.createdAt));
    assert.equal(new Date(newest).toISOString().slice(11, 16), "22:30", `${day}: its newest`);
  }
  assert.deepEqual(
    snapshots.filter((s) => s.createdAt > now - 6 * 3600_000).map((s) => (now - s.createdAt) / 3600_000),
    [4, 2, 0],
  );
  // Each kept snapshot restores to the database as it was at that run.
  const levels = await listAllLevels(store);
  for (const s of snapshots) {
    const out = join(dir, `restore-${s.maxTxid}.db`);
    await restoreToFile(store, planFromListings(levels, { txid: s.maxTxid }), out);
    assert.equal(dumpDigest(out).digest, digests.get(s.maxTxid));
  }
  // No replicate runs, so the local state keeps only its newest L0 file.
  assert.equal((await new FileStore(join(dir, ".app.db-walship")).list(0)).length, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("snapshot failures: missing database, unwritable replica, no arguments", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-snap-err-" });
  const missing = await runWalship(["snapshot", join(dir, "nope.db"), `file://${join(dir, "b")}`]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.split("\n")[0], `error: Database "${join(dir, "nope.db")}" does not exist`);
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath);
  app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(x)");
  app.close();
  await Deno.writeTextFile(join(dir, "a-file"), "");
  const unwritable = await runWalship(["snapshot", dbPath, `file://${join(dir, "a-file", "replica")}`]);
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.stderr, /^error: snapshot to file:\/\/.*a-file\/replica failed: /);
  assert.ok(!unwritable.stderr.includes("    at "), "no stack trace");
  // A database path alone means "from the config file", which is missing here.
  const usage = await runWalship(["snapshot", "-config", join(dir, "none.yml"), dbPath]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^error: .*none\.yml/);
  await Deno.remove(dir, { recursive: true });
});
