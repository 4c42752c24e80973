import assert from "node:assert/strict";
import { bytesEqual } from "../util/bytes.ts";
import { decodeDbHeader } from "./db_header.ts";
import { readFrameHeaderAt, readWalHeader, walFrameSize } from "./wal_header.ts";
import type { WalHeader } from "./wal_header.ts";
import { readFramePage, readPageMap } from "./wal_page_map.ts";
import type { ReadPageMapOptions, WalPageMap } from "./wal_page_map.ts";

// Real SQLite 3.40.1 output with page size 1024, described in spec §6.2 (`wal/`).
const DIR = new URL("../../tests/fixtures/wal/", import.meta.url);
const PS = 1024;

interface Expected {
  sync1: { start: number; end: number; commit: number; pages: number[] };
  sync2: { start: number; end: number; commit: number; wal_pages: number[]; ltx_pages: number[] };
  salts: [string, string];
}
const expected: Expected = JSON.parse(await Deno.readTextFile(new URL("expected.json", DIR)));

async function withWal<T>(
  name: string,
  fn: (file: Deno.FsFile, header: WalHeader) => Promise<T>,
): Promise<T> {
  using file = await Deno.open(new URL(name, DIR));
  const header = await readWalHeader(file);
  assert.ok(header, `${name} header`);
  return await fn(file, header);
}

function mapOf(name: string, options?: ReadPageMapOptions): Promise<WalPageMap> {
  return withWal(name, (file, header) => readPageMap(file, header, options));
}

/** Each frame's pgno and commit field between two offsets, read one header at a time. */
async function scanFrames(
  name: string,
  start: number,
  end: number,
): Promise<Array<{ pgno: number; offset: number }>> {
  using file = await Deno.open(new URL(name, DIR));
  const out = [];
  for (let offset = start; offset < end; offset += walFrameSize(PS)) {
    const frame = await readFrameHeaderAt(file, offset);
    assert.ok(frame);
    out.push({ pgno: frame.pgno, offset });
  }
  return out;
}

/** Checks that each mapped offset is the newest frame of its page in `[start, end)`. */
async function assertNewestFrames(name: string, map: WalPageMap): Promise<void> {
  const newest = new Map<number, number>();
  for (const { pgno, offset } of await scanFrames(name, map.startOffset, map.endOffset)) {
    newest.set(pgno, offset);
  }
  assert.deepEqual(
    new Map([...map.pages].sort((a, b) => a[0] - b[0])),
    new Map([...newest].sort((a, b) => a[0] - b[0])),
  );
}

/** `db` with the mapped pages written over it, cut to `commit` pages. */
async function applyMap(db: Uint8Array, name: string, map: WalPageMap): Promise<Uint8Array> {
  const out = new Uint8Array(map.commit * PS);
  out.set(db.subarray(0, out.length));
  await withWal(name, async (file) => {
    for (const [pgno, offset] of map.pages) out.set(await readFramePage(file, offset, PS), (pgno - 1) * PS);
  });
  return out;
}

function sorted(map: WalPageMap): number[] {
  return [...map.pages.keys()].sort((a, b) => a - b);
}

Deno.test("readPageMap() on fixture wal-1 gives sync 1", async () => {
  const map = await mapOf("wal-1");
  assert.deepEqual(sorted(map), expected.sync1.pages);
  assert.equal(map.commit, expected.sync1.commit);
  assert.equal(map.startOffset, expected.sync1.start);
  assert.equal(map.endOffset, expected.sync1.end);
  assert.equal(map.limited, false);
  await assertNewestFrames("wal-1", map);
});

for (const name of ["wal-2", "wal-2-bigendian"]) {
  Deno.test(`readPageMap() on fixture ${name} resumed after sync 1 gives sync 2`, async () => {
    const header = await withWal(name, (_, h) => Promise.resolve(h));
    assert.equal(header.bigEndianChecksum, name.endsWith("bigendian"));
    assert.deepEqual([header.salt1, header.salt2], expected.salts.map((s) => parseInt(s, 16)));
    assert.equal(header.pageSize, PS);
    const map = await mapOf(name, { offset: expected.sync1.end });
    assert.deepEqual(sorted(map), expected.sync2.wal_pages);
    assert.equal(map.commit, expected.sync2.commit);
    assert.equal(map.startOffset, expected.sync2.start);
    assert.equal(map.endOffset, expected.sync2.end);
    await assertNewestFrames(name, map);
  });

  Deno.test(`readPageMap() on fixture ${name} from offset 32 equals a SQLite checkpoint`, async () => {
    const full = await mapOf(name);
    assert.equal(full.endOffset, expected.sync2.end);
    assert.equal(full.commit, expected.sync2.commit);
    await assertNewestFrames(name, full);
    const checkpointed = await Deno.readFile(new URL("checkpointed-2.db", DIR));
    assert.ok(
      bytesEqual(await applyMap(await Deno.readFile(new URL("db-2", DIR)), name, full), checkpointed),
    );
    // Sync 1 from wal-1, then sync 2 from this WAL, gives the same database.
    const first = await applyMap(await Deno.readFile(new URL("db-1", DIR)), "wal-1", await mapOf("wal-1"));
    const second = await applyMap(first, name, await mapOf(name, { offset: expected.sync1.end }));
    assert.ok(bytesEqual(second, checkpointed));
    assert.equal(decodeDbHeader(second).pageSize, PS);
  });
}

Deno.test("readPageMap() on fixture wal-2 with maxBytes stops at the sync 1 commit", async () => {
  const map = await mapOf("wal-2", { maxBytes: expected.sync1.end - 32 });
  assert.equal(map.limited, true);
  assert.equal(map.endOffset, expected.sync1.end);
  assert.equal(map.commit, expected.sync1.commit);
  assert.deepEqual(sorted(map), expected.sync1.pages);
});
