import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { decodeLtx } from "../ltx/decoder.ts";
import { Database } from "./database.ts";
import { snapshotFromL0 } from "./snapshot_from_l0.ts";

const NOW = Date.UTC(2026, 10, 21, 6, 0, 0);

/** A WAL database with pages both checkpointed into the file and still in the WAL. */
function makeDatabase(path: string, rows: number): DatabaseSync {
  const app = new DatabaseSync(path);
  app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  const insert = app.prepare("INSERT INTO t(v) VALUES (?)");
  const text = new TextEncoder().encode("order shipped ".repeat(60));
  for (let i = 0; i < rows; i++) {
    insert.run(i % 2 ? crypto.getRandomValues(new Uint8Array(700)) : text);
    if (i === rows / 2) app.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return app;
}

Deno.test("a snapshot from the first sync's L0 file is byte for byte the one Database.snapshot writes", async () => {
  const dir = await Deno.makeTempDir();
  const app = makeDatabase(join(dir, "app.db"), 3000);
  const db = await Database.open(join(dir, "app.db"), { now: () => NOW, checkpointIntervalMs: 0 });
  try {
    await db.sync();
    const derived = await snapshotFromL0(db, () => NOW);
    assert.ok(derived, "the first sync writes every page");
    const read = await db.snapshot();
    assert.ok(read);
    assert.deepEqual(
      { ...derived, path: "" },
      { ...read, path: "" },
    );
    const bytes = await Deno.readFile(derived.path);
    assert.deepEqual(bytes, await Deno.readFile(read.path));
    const decoded = await decodeLtx(bytes);
    assert.equal(decoded.header.minTxid, 1n);
    assert.equal(decoded.pages.length, decoded.header.commit);
    await db.discardSnapshot(derived);
    await db.discardSnapshot(read);
  } finally {
    await db.close();
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no snapshot from L0 when the newest L0 file holds only the last transaction's pages", async () => {
  const dir = await Deno.makeTempDir();
  const app = makeDatabase(join(dir, "app.db"), 200);
  const db = await Database.open(join(dir, "app.db"), { now: () => NOW, checkpointIntervalMs: 0 });
  try {
    await db.sync();
    app.exec("INSERT INTO t(v) VALUES (x'00')");
    await db.sync();
    assert.equal(await snapshotFromL0(db, () => NOW), null);
    assert.deepEqual([...Deno.readDirSync(db.scratchDir)], []);
  } finally {
    await db.close();
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});
