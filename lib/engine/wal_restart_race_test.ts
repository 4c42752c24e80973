/**
 * Regression test (found by the chaos suite): walship starting while the WAL is fully checkpointed reads
 * at SQLite's read mark 0, which does not stop a writer from restarting the WAL. A restart between
 * mapping the frames to copy and reading their pages used to put the new generation's pages into the
 * old generation's L0 file: a restore then failed SQLite's integrity check.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { FileStore } from "../storage/file.ts";
import { Database } from "./database.ts";
import { Replica } from "./replica.ts";
import { restoreToFile } from "./restore.ts";
import { planRestore } from "./restore_plan.ts";

function digest(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const check = db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
    const rows = db.prepare("SELECT id, v FROM t ORDER BY id").all() as { id: number; v: string }[];
    return `${check.integrity_check}:${rows.length}:${rows.map((r) => r.v.length + r.v.slice(0, 12)).join()}`;
  } finally {
    db.close();
  }
}

Deno.test("a WAL restart while walship reads at mark 0 never mixes generations in an L0 file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-restart-race-" });
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath, { timeout: 5000 });
  app.exec("PRAGMA journal_mode = wal; PRAGMA wal_autocheckpoint = 0");
  app.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  const insert = app.prepare("INSERT INTO t(v) VALUES (?)");
  const write = (rows: number, tag: string) => {
    app.exec("BEGIN");
    for (let i = 0; i < rows; i++) insert.run(`${tag}-${i}-`.padEnd(900, tag));
    app.exec("COMMIT");
  };
  write(20, "a");
  const store = new FileStore(join(dir, "replica"));
  {
    const db = await Database.open(dbPath, { checkpointIntervalMs: 0 });
    await db.sync();
    await new Replica(db, store).sync();
    await db.close();
  }
  // While walship is stopped: more frames in the same generation, then a full checkpoint, so the next
  // reader gets mark 0 and the next writer may restart the WAL.
  write(40, "b");
  app.exec("PRAGMA wal_checkpoint(PASSIVE)");
  let restarted = false;
  const db = await Database.open(dbPath, {
    checkpointIntervalMs: 0,
    afterWalMapped: () => {
      if (restarted) return;
      restarted = true;
      write(80, "c"); // restarts the WAL and overwrites the frames just mapped
    },
  });
  try {
    await db.sync();
    assert.ok(restarted, "the restart happened mid-sync");
    await new Replica(db, store).sync();
  } finally {
    await db.close();
  }
  const out = join(dir, "out.db");
  await restoreToFile(store, await planRestore(store, {}), out);
  const expected = digest(dbPath);
  assert.match(expected, /^ok:140:/);
  assert.equal(digest(out), expected);
  app.close();
  await Deno.remove(dir, { recursive: true });
});
