import assert from "node:assert/strict";
import { join } from "node:path";
import { buildWal, samplePage, seededInts } from "../sqlite/_wal_builder.ts";
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE, walFrameSize } from "../sqlite/mod.ts";
import { CorruptionError } from "../util/errors.ts";
import { DatabaseFile } from "./database_file.ts";
import { PageReadBuffers, PageSource } from "./page_source.ts";

const PS = 4096;
const DB_PAGES = 400;

/**
 * A database file of DB_PAGES pages and a WAL of `frameCount` frames over pages 1..600 (so some pages
 * lie past the database's end), with the map of each page's newest frame and the bytes every page reads as.
 */
async function fixture(dir: string, seed: number, frameCount: number) {
  const random = seededInts(seed);
  const dbPath = join(dir, `db-${seed}`);
  const db = new Uint8Array(DB_PAGES * PS);
  for (let p = 1; p <= DB_PAGES; p++) db.set(samplePage(PS, p, 999), (p - 1) * PS);
  await Deno.writeFile(dbPath, db);
  // Mostly appends in runs, some rewrites of low pages: the shape of an insert workload, plus noise.
  const pgnos: number[] = [];
  for (let next = 300; pgnos.length < frameCount;) {
    const roll = random(10);
    pgnos.push(roll < 6 ? next++ : roll < 8 ? 1 + random(20) : 1 + random(600));
    if (next > 600) next = 300;
  }
  const wal = buildWal({ pageSize: PS, salt1: 1, salt2: 2, frames: pgnos.map((pgno) => ({ pgno })) });
  const walPath = join(dir, `wal-${seed}`);
  await Deno.writeFile(walPath, wal);
  const frames = new Map<number, number>();
  pgnos.forEach((pgno, i) => frames.set(pgno, WAL_HEADER_SIZE + i * walFrameSize(PS)));
  const expected = (pgno: number): Uint8Array => {
    const frame = frames.get(pgno);
    if (frame !== undefined) {
      return wal.subarray(frame + WAL_FRAME_HEADER_SIZE, frame + WAL_FRAME_HEADER_SIZE + PS);
    }
    return pgno <= DB_PAGES ? samplePage(PS, pgno, 999) : new Uint8Array(PS);
  };
  return { dbPath, walPath, frames, expected, random };
}

Deno.test("PageSource.pages() reads each page's newest WAL frame, else the database, in any order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-page-source-" });
  try {
    const buffers = new PageReadBuffers();
    for (const seed of [1, 2, 3]) {
      const { dbPath, walPath, frames, expected, random } = await fixture(dir, seed, 3000);
      const db = DatabaseFile.open(dbPath);
      using wal = await Deno.open(walPath);
      try {
        const source = new PageSource(db, wal, frames, PS, buffers);
        const ascending = Array.from({ length: 650 }, (_, i) => i + 1);
        const shuffled = ascending.map((p) => [random(1 << 30), p]).sort((a, b) => a[0]! - b[0]!)
          .map(([, p]) => p!);
        // Long enough to span several batches and windows, with repeats and jumps back.
        const mixed = [...ascending, ...shuffled, ...ascending.slice().reverse(), ...shuffled];
        for (const order of [ascending, shuffled, mixed]) {
          let i = 0;
          for (const [pgno, data] of source.pages(order)) {
            assert.equal(pgno, order[i], `page ${i} of the order`);
            assert.deepEqual(data, expected(pgno), `seed ${seed}, page ${pgno}`);
            i++;
          }
          assert.equal(i, order.length);
        }
        // Without a WAL every page comes from the database file.
        const dbOnly = new PageSource(db, null, frames, PS, buffers);
        for (const [pgno, data] of dbOnly.pages([1, 2, 399, 400, 401, 3])) {
          const want = pgno <= DB_PAGES ? samplePage(PS, pgno, 999) : new Uint8Array(PS);
          assert.deepEqual(data, want, `database page ${pgno}`);
        }
      } finally {
        db.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PageSource.pages() rejects a WAL that ends inside a wanted frame, never serving stale bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-page-source-" });
  try {
    const { dbPath, walPath, frames, expected } = await fixture(dir, 7, 600);
    const db = DatabaseFile.open(dbPath);
    try {
      // Cut the file in the middle of the newest frame of the page whose frame is last.
      const [lastPgno, lastFrame] = [...frames].reduce((m, e) => (e[1] > m[1] ? e : m));
      await Deno.truncate(walPath, lastFrame + WAL_FRAME_HEADER_SIZE + PS / 2);
      using wal = await Deno.open(walPath);
      const source = new PageSource(db, wal, frames, PS, new PageReadBuffers());
      const order = [...frames.keys()].sort((a, b) => a - b);
      assert.throws(() => {
        for (const [pgno, data] of source.pages(order)) {
          assert.notEqual(pgno, lastPgno, "the torn page is never served");
          assert.deepEqual(data, expected(pgno));
        }
      }, CorruptionError);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
