import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { holdsPosixLock } from "../../tests/helpers/posix_locks.ts";
import { walApp } from "../../tests/helpers/wal_app.ts";
import { Database } from "./database.ts";
import { sameReading, WalProbe } from "./wal_probe.ts";

Deno.test("a WAL probe reads the same until a transaction commits", async () => {
  const { path, app, cleanup } = await walApp("walship-probe-");
  const probe = new WalProbe(path);
  try {
    const first = probe.read();
    assert.ok(first);
    assert.ok(sameReading(first, probe.read()));
    app.exec("SELECT count(*) FROM t"); // a read changes nothing
    assert.ok(sameReading(first, probe.read()));
    app.exec("INSERT INTO t VALUES (1)");
    const second = probe.read();
    assert.ok(!sameReading(first, second));
    // Same size and frame count after a WAL restart still reads as a change: the salts and counter move.
    app.exec("PRAGMA wal_checkpoint(RESTART)");
    const restarted = probe.read();
    app.exec("INSERT INTO t VALUES (2)");
    assert.ok(!sameReading(restarted, probe.read()));
    app.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    assert.ok(!sameReading(second, probe.read()));
  } finally {
    probe.close();
    await cleanup();
  }
});

Deno.test("reading the probe keeps SQLite's read-mark locks on -shm (closing a descriptor would drop them)", async () => {
  const { path, app, cleanup } = await walApp("walship-probe-");
  app.exec("INSERT INTO t VALUES (1)");
  const db = await Database.open(path, { checkpointIntervalMs: 0 });
  try {
    await db.sync();
    assert.ok(holdsPosixLock(`${path}-shm`), "the read transaction holds a lock on -shm");
    for (let i = 0; i < 3; i++) {
      assert.ok(db.walReading());
      assert.ok(holdsPosixLock(`${path}-shm`), `reading ${i + 1} dropped the lock`);
    }
  } finally {
    await db.close();
    await cleanup();
  }
});

Deno.test("a WAL probe without a wal-index gives no reading, which never matches", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-probe-" });
  try {
    const path = join(dir, "plain.db");
    const app = new DatabaseSync(path);
    app.exec("CREATE TABLE t(v); INSERT INTO t VALUES (1)");
    app.close();
    const probe = new WalProbe(path);
    assert.equal(probe.read(), null);
    assert.ok(!sameReading(null, null));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
