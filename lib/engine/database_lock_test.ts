/**
 * Regression: walship must keep SQLite's locks on the database for as long as it runs. Deno's async
 * FsFile.stat()/seek() once dropped them (they close a duplicated descriptor), so an application's last
 * connection could checkpoint and delete the WAL on close, taking uncopied frames with it.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { holdsPosixLock } from "../../tests/helpers/posix_locks.ts";
import { Database } from "./database.ts";

async function appWritesAndCloses(dbPath: string, rows: number): Promise<void> {
  const script = `import { DatabaseSync } from "node:sqlite";
const db = new DatabaseSync(${JSON.stringify(dbPath)}, { timeout: 5000 });
db.exec("BEGIN"); for (let i = 0; i < ${rows}; i++) db.exec("INSERT INTO t(v) VALUES (randomblob(300))"); db.exec("COMMIT");
db.close();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `--allow-read=${dbPath}-wal,${dbPath}-shm,${dbPath}`,
      `--allow-write=${dbPath}-wal,${dbPath}-shm,${dbPath}`,
      script,
    ],
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test("Database keeps its SQLite locks: another process closing its connection cannot delete the WAL", async () => {
  const dir = await Deno.makeTempDir();
  const dbPath = join(dir, "app.db");
  const setup = new DatabaseSync(dbPath);
  setup.exec("PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  setup.close();
  const db = await Database.open(dbPath, { checkpointIntervalMs: 0 });
  try {
    assert.ok(holdsPosixLock(dbPath), "the read transaction holds SQLite's SHARED lock");
    await db.sync();
    assert.ok(holdsPosixLock(dbPath), "still held after the first sync (a snapshot)");
    for (let round = 1; round <= 3; round++) {
      await appWritesAndCloses(dbPath, 50);
      const wal = await Deno.stat(`${dbPath}-wal`).catch(() => null);
      assert.ok(wal && wal.size > 32, `round ${round}: the WAL was checkpointed away under walship`);
      const { files } = await db.sync();
      assert.equal(files.length, 1, `round ${round}: the new frames became one L0 file`);
      await db.snapshot(); // reads every page of the database file
      await db.checkpointIfNeeded();
      assert.ok(holdsPosixLock(dbPath), `round ${round}: walship lost SQLite's lock on the database file`);
    }
  } finally {
    await db.close();
  }
});
