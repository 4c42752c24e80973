/**
 * The supervisor in-process with file replicas: a database that cannot start never holds up the others
 * and is retried; a missing one is awaited or restored; start() fails only when nothing could start.
 * App connections stay open until the supervisor stops: closing one in this process would drop the
 * SQLite locks walship holds (POSIX locks belong to the process).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { holdsPosixLock } from "../../tests/helpers/posix_locks.ts";
import type { DatabaseConfig } from "../config/config.ts";
import { dumpDigest } from "../../tests/helpers/sqlite_dump.ts";
import { silentLogger } from "../util/log.ts";
import { WalshipError } from "../util/errors.ts";
import { DEFAULT_SCHEDULE } from "./schedule.ts";
import { type DatabaseStats, Supervisor, type SupervisorOptions } from "./supervisor.ts";

function entry(path: string, replicaDirs: string[], extra: Partial<DatabaseConfig> = {}): DatabaseConfig {
  return {
    path,
    recursive: false,
    watch: false,
    monitorIntervalMs: 50,
    checkpointIntervalMs: 60_000,
    busyTimeoutMs: 1000,
    minCheckpointPageCount: 1000,
    truncatePageCount: 121359,
    maxSyncWalBytes: 0,
    restoreIfDbNotExists: false,
    replicas: replicaDirs.map((dir, i) => ({
      name: `file-${i + 1}`,
      spec: { type: "file", path: dir },
      syncIntervalMs: 50,
    })),
    ...extra,
  };
}

function supervisor(dbs: DatabaseConfig[], extra: Partial<SupervisorOptions> = {}): Supervisor {
  return new Supervisor(dbs, {
    schedule: DEFAULT_SCHEDULE,
    shutdownSyncTimeoutMs: 2000,
    logger: silentLogger,
    maxRetryDelayMs: 100,
    ...extra,
  });
}

function createApp(path: string): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec("PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)");
  db.exec("INSERT INTO t(v) VALUES (randomblob(500))");
  return db;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function statsOf(all: DatabaseStats[], path: string): DatabaseStats {
  const found = all.find((s) => s.path === path);
  assert.ok(found, `no stats for ${path}`);
  return found;
}

function caughtUp(s: DatabaseStats): boolean {
  return s.running && s.txid > 0n && s.replicas.every((r) => r.txid === s.txid);
}

Deno.test("Supervisor keeps replicating while another database cannot start, and starts that one once it can", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-supervisor-" });
  const good = join(dir, "good.db");
  const bad = join(dir, "bad.db");
  const app = createApp(good);
  await Deno.writeTextFile(bad, "this is not a SQLite database, it is text of some length ..........");
  const s = supervisor([entry(good, [join(dir, "r-good")]), entry(bad, [join(dir, "r-bad")])]);
  let fixed: DatabaseSync | undefined;
  try {
    await s.start();
    let stats = await s.stats();
    assert.equal(statsOf(stats, bad).running, false);
    const before = statsOf(stats, good).txid;
    for (let i = 0; i < 5; i++) app.exec("INSERT INTO t(v) VALUES (randomblob(500))");
    await until("the good database to replicate the new rows", async () => {
      const now = statsOf(await s.stats(), good);
      return caughtUp(now) && now.txid > before;
    });
    stats = await s.stats();
    assert.ok(statsOf(stats, good).replicas[0]!.shippedBytes > 0);
    assert.equal(statsOf(stats, bad).running, false);

    await Deno.remove(bad);
    fixed = createApp(bad);
    await until("the retried database to start", async () => caughtUp(statsOf(await s.stats(), bad)));
  } finally {
    assert.equal(await s.stop(), true);
    app.close();
    fixed?.close();
  }
});

Deno.test("Supervisor.start() throws the error when no database could start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-supervisor-" });
  const bad = join(dir, "bad.db");
  await Deno.writeTextFile(bad, "plain text, not SQLite ........................................");
  const s = supervisor([entry(bad, [join(dir, "r")]), entry(join(dir, "missing.db"), [join(dir, "r2")])]);
  await assert.rejects(
    s.start(),
    (err) => err instanceof WalshipError && /not a SQLite database/.test(err.message),
  );
});

Deno.test("Supervisor waits for a database that does not exist yet when asked to", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-supervisor-" });
  const path = join(dir, "later.db");
  const s = supervisor([entry(path, [join(dir, "r")])], { waitForMissing: true });
  let app: DatabaseSync | undefined;
  try {
    await s.start();
    assert.equal((await s.stats())[0]!.running, false);
    app = createApp(path);
    await until("the new database to replicate", async () => caughtUp((await s.stats())[0]!));
  } finally {
    assert.equal(await s.stop(), true);
    app?.close();
  }
});

Deno.test("Supervisor restores a missing database from the first replica that has a backup", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-supervisor-" });
  const path = join(dir, "app.db");
  const empty = join(dir, "r-empty");
  const full = join(dir, "r-full");
  const app = createApp(path);
  for (let i = 0; i < 20; i++) app.exec("INSERT INTO t(v) VALUES (randomblob(700))");
  const before = dumpDigest(path);
  await supervisor([entry(path, [full])]).syncOnce({});
  app.close();
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(path + suffix).catch(() => {});
  await Deno.remove(join(dir, ".app.db-walship"), { recursive: true });

  const s = supervisor([entry(path, [empty, full])], { restoreIfMissing: true });
  try {
    await s.start();
    await until("the restored database to replicate", async () => caughtUp((await s.stats())[0]!));
  } finally {
    assert.equal(await s.stop(), true);
  }
  // Read after stopping: opening and closing the file here would drop the supervisor's SQLite locks.
  assert.deepEqual(dumpDigest(path), before);
});

Deno.test("Supervisor: a directory without watch and without databases is an error; with watch it is not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-supervisor-" });
  await Deno.writeTextFile(join(dir, "notes.db"), "text, not a database ...............................");
  const directory = (watch: boolean) =>
    entry("", [join(dir, "r")], { path: undefined, dir, pattern: "*.db", watch }) as DatabaseConfig;
  const plain = supervisor([directory(false)]);
  await assert.rejects(plain.start(), /No SQLite databases match "\*\.db"/);
  const watching = supervisor([directory(true)]);
  let app: DatabaseSync | undefined;
  try {
    await watching.start();
    assert.deepEqual(await watching.stats(), []);
    app = createApp(join(dir, "new.db"));
    await until("the new database to be picked up", async () => {
      const stats = await watching.stats();
      return stats.length === 1 && caughtUp(stats[0]!);
    });
    app.close();
    app = undefined;
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(join(dir, "new.db") + suffix).catch(() => {});
    }
    await until("the removed database to be dropped", async () => (await watching.stats()).length === 0);
  } finally {
    assert.equal(await watching.stop(), true);
    app?.close();
  }
});

/** Creates a database from another process, so this one never opens (and, closing, unlocks) the file. */
async function createInChild(path: string): Promise<void> {
  const script = `import { DatabaseSync } from "node:sqlite";
const db = new DatabaseSync(${JSON.stringify(path)});
db.exec("PRAGMA journal_mode=wal; CREATE TABLE t(v); INSERT INTO t VALUES (randomblob(500))");
db.close();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--allow-read", "--allow-write", script],
  })
    .output();
  assert.ok(out.success);
}

Deno.test("Supervisor: rescanning a watched directory never opens a database it replicates (SQLite locks stay)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-supervisor-" });
  const first = join(dir, "first.db");
  await createInChild(first);
  const s = supervisor([
    entry("", [join(dir, "r")], { path: undefined, dir, pattern: "*.db", watch: true }) as DatabaseConfig,
  ]);
  try {
    await s.start();
    assert.ok(holdsPosixLock(first), "walship holds SQLite's lock on the database it replicates");
    await createInChild(join(dir, "second.db"));
    await until("the second database to be picked up", async () => (await s.stats()).length === 2);
    assert.ok(holdsPosixLock(first), "the rescan did not drop it");
  } finally {
    assert.equal(await s.stop(), true);
  }
});
