import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { bytesEqual, readU32 } from "../util/bytes.ts";
import { openTempWal, rechecksumWal, seededInts } from "./_wal_builder.ts";
import { decodeDbHeader } from "./db_header.ts";
import { readWalHeader } from "./wal_header.ts";
import { readFramePage, readPageMap } from "./wal_page_map.ts";
import type { WalPageMap } from "./wal_page_map.ts";

// Pitfall 1 (spec §7): closing any other fd on a database file drops this process's SQLite locks,
// so the main files are only read while no connection is open. `-wal` fds are safe.

function blob(next: (n: number) => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = next(256);
  return out;
}

/** Committed transactions (growth, overflow pages, updates, deletes, shrinking), then a spilled rollback. */
function writeTransactions(db: DatabaseSync, ps: number, next: (n: number) => number): void {
  const insert = db.prepare("INSERT INTO t (n, s, b) VALUES (?, ?, ?)");
  db.exec("BEGIN");
  for (let i = 0; i < 60; i++) insert.run(next(1e9), "row " + "x".repeat(next(300)), blob(next, next(200)));
  db.exec("COMMIT");
  for (let tx = 0; tx < 3; tx++) {
    db.exec("BEGIN");
    for (let i = 0; i < 4; i++) insert.run(next(1e9), "big", blob(next, 3 * ps + next(ps)));
    db.exec("COMMIT");
  }
  db.exec("UPDATE t SET s = s || '!' WHERE id % 3 = 0");
  db.exec("CREATE INDEX t_n ON t (n)");
  db.exec("DELETE FROM t WHERE s = 'big' AND id % 2 = 0");
  // node:sqlite forbids ATTACH, which VACUUM needs; incremental vacuum shrinks the file too.
  const pagesBefore = db.prepare("PRAGMA page_count").get()?.page_count;
  db.exec("PRAGMA incremental_vacuum");
  assert.ok(
    Number(db.prepare("PRAGMA page_count").get()?.page_count) < Number(pagesBefore),
    "database shrank",
  );
  insert.run(1, "after vacuum", blob(next, ps / 2));
  // A transaction bigger than the page cache spills uncommitted frames into the WAL, then rolls back.
  db.exec("PRAGMA cache_size = 5");
  db.exec("BEGIN");
  for (let i = 0; i < 10; i++) insert.run(2, "rolled back", blob(next, 4 * ps));
  db.exec("ROLLBACK");
}

/** `before` with the mapped pages (read from `wal`) written over it, cut to `commit` pages. */
async function applyMap(
  before: Uint8Array,
  walPath: string,
  map: WalPageMap,
  ps: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(map.commit * ps);
  out.set(before.subarray(0, out.length));
  using wal = await Deno.open(walPath);
  for (const [pgno, offset] of map.pages) out.set(await readFramePage(wal, offset, ps), (pgno - 1) * ps);
  return out;
}

async function mapOfFile(walPath: string): Promise<WalPageMap> {
  using wal = await Deno.open(walPath);
  const header = await readWalHeader(wal);
  assert.ok(header, "WAL header");
  return await readPageMap(wal, header);
}

/** Opens a copy of a database file with SQLite, checkpoints it and returns the checkpointed bytes. */
async function checkpointWithSqlite(
  dir: string,
  name: string,
  db: Uint8Array,
  wal: Uint8Array,
): Promise<Uint8Array> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, db);
  await Deno.writeFile(`${path}-wal`, wal);
  const conn = new DatabaseSync(path);
  conn.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  conn.close();
  return await Deno.readFile(path);
}

for (const ps of [512, 4096, 65536]) {
  Deno.test(`readPageMap() rebuilds what SQLite checkpoints, page size ${ps}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "walship-sqlite-" });
    try {
      const path = `${dir}/db.sqlite`;
      const setup = new DatabaseSync(path);
      setup.exec(`PRAGMA page_size = ${ps}`);
      setup.exec("PRAGMA auto_vacuum = incremental");
      setup.exec("PRAGMA journal_mode = wal");
      setup.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT, b BLOB)");
      setup.exec("INSERT INTO t (n, s) VALUES (0, 'seed')");
      setup.close(); // checkpoints and removes the WAL
      const before = await Deno.readFile(path);
      assert.deepEqual(decodeDbHeader(before), { ...decodeDbHeader(before), pageSize: ps, writeVersion: 2 });

      const writer = new DatabaseSync(path);
      const reader = new DatabaseSync(path);
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM sqlite_schema").get();
      writeTransactions(writer, ps, seededInts(ps));
      const map = await mapOfFile(`${path}-wal`);
      const wal = await Deno.readFile(`${path}-wal`);
      const rebuilt = await applyMap(before, `${path}-wal`, map, ps);
      reader.exec("COMMIT");
      writer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      reader.close();
      writer.close();
      const checkpointed = await Deno.readFile(path);

      assert.ok(wal.length > map.endOffset, "the rolled-back transaction left uncommitted frames");
      let maxPgno = 0;
      for (let at = 32; at < map.endOffset; at += ps + 24) maxPgno = Math.max(maxPgno, readU32(wal, at));
      assert.ok(maxPgno > map.commit, "committed frames of pages dropped by the shrink");
      assert.equal(map.limited, false);
      assert.equal(checkpointed.length, map.commit * ps);
      assert.ok(bytesEqual(rebuilt, checkpointed), "rebuilt database equals SQLite's checkpoint");

      const copy = `${dir}/rebuilt.sqlite`;
      await Deno.writeFile(copy, rebuilt);
      const check = new DatabaseSync(copy);
      assert.deepEqual(check.prepare("PRAGMA integrity_check").all().map((r) => r.integrity_check), ["ok"]);
      assert.deepEqual(check.prepare("SELECT count(*) AS n FROM t WHERE s = 'rolled back'").get()?.n, 0);
      assert.deepEqual(check.prepare("SELECT count(*) AS n FROM t WHERE s = 'after vacuum'").get()?.n, 1);
      check.close();

      // The same WAL with big-endian checksums: the same map, and SQLite accepts it.
      const bigEndian = rechecksumWal(wal, true);
      {
        using tmp = await openTempWal(bigEndian);
        const header = await readWalHeader(tmp.file);
        assert.equal(header?.bigEndianChecksum, true);
        assert.deepEqual(await readPageMap(tmp.file, header!), map);
      }
      assert.ok(bytesEqual(await checkpointWithSqlite(dir, "be.sqlite", before, bigEndian), checkpointed));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
