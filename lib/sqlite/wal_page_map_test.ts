import assert from "node:assert/strict";
import { writeU32 } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { buildWal, type FrameSpec, openTempWal, overlay, samplePage } from "./_wal_builder.ts";
import { decodeWalHeader, readWalHeader, walFrameSize } from "./wal_header.ts";
import { frameSaltsUntil, PrevFrameMismatchError, readFramePage, readPageMap } from "./wal_page_map.ts";
import type { ReadPageMapOptions, WalPageMap } from "./wal_page_map.ts";

const PS = 4096;
const FS = walFrameSize(PS);
const SALTS = { salt1: 0x4875a40b, salt2: 0xa38de4f5 };

/** File offset of frame `index` for page size `ps`. */
function at(index: number, ps = PS): number {
  return 32 + index * walFrameSize(ps);
}

function frames(...specs: Array<[pgno: number, commit?: number]>): FrameSpec[] {
  return specs.map(([pgno, commit]) => ({ pgno, commit: commit ?? 0 }));
}

async function pageMapOf(wal: Uint8Array, options?: ReadPageMapOptions): Promise<WalPageMap> {
  using tmp = await openTempWal(wal);
  const header = await readWalHeader(tmp.file);
  assert.ok(header, "WAL header");
  return await readPageMap(tmp.file, header, options);
}

/** Checks a page map against `[pgno, frame index]` pairs, the commit and the end frame index. */
function assertMap(
  map: WalPageMap,
  expected: { pages: Array<[number, number]>; commit: number; endFrame: number; ps?: number },
): void {
  const ps = expected.ps ?? PS;
  const pages = [...map.pages].sort((a, b) => a[0] - b[0]);
  assert.deepEqual(pages, expected.pages.map(([pgno, index]) => [pgno, at(index, ps)]));
  assert.equal(map.commit, expected.commit);
  assert.equal(map.endOffset, at(expected.endFrame, ps));
}

// Litestream testdata/wal-reader/ok: pg1 c0, pg2 c2, pg2 c2 (spec §6.1).
const LITESTREAM_OK = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [2, 2]) });

Deno.test("readPageMap() reads Litestream's ok fixture", async () => {
  assert.equal(LITESTREAM_OK.length, 12392);
  assert.deepEqual([...LITESTREAM_OK.subarray(24, 32)], [0xe0, 0x8b, 0x78, 0x5b, 0x8e, 0x57, 0xdd, 0xa3]);
  const map = await pageMapOf(LITESTREAM_OK);
  assertMap(map, { pages: [[1, 0], [2, 2]], commit: 2, endFrame: 3 });
  assert.equal(map.startOffset, 32);
  assert.equal(map.limited, false);
});

Deno.test("readPageMap() stops at a frame whose salt differs (Litestream salt-mismatch)", async () => {
  const wal = LITESTREAM_OK.slice();
  writeU32(wal, at(1) + 8, 0);
  assertMap(await pageMapOf(wal), { pages: [], commit: 0, endFrame: 0 });
  const committed = buildWal({ pageSize: PS, ...SALTS, frames: frames([1, 1], [2, 2], [3, 3]) });
  writeU32(committed, at(1) + 12, 0);
  assertMap(await pageMapOf(committed), { pages: [[1, 0]], commit: 1, endFrame: 1 });
});

Deno.test("readPageMap() stops at a frame whose checksum breaks the chain (Litestream frame-checksum-mismatch)", async () => {
  const wal = LITESTREAM_OK.slice();
  writeU32(wal, at(1) + 16, 0);
  assertMap(await pageMapOf(wal), { pages: [], commit: 0, endFrame: 0 });
  const committed = buildWal({ pageSize: PS, ...SALTS, frames: frames([1, 1], [2, 2], [3, 3], [4, 4]) });
  committed[at(3) + 24 + 100]! ^= 0x40;
  writeU32(committed, at(2) + 20, 0);
  assertMap(await pageMapOf(committed), { pages: [[1, 0], [2, 1]], commit: 2, endFrame: 2 });
});

Deno.test("readPageMap() returns an empty map for a WAL with only a header", async () => {
  const map = await pageMapOf(buildWal({ pageSize: PS, ...SALTS, frames: [] }));
  assert.deepEqual(map, { pages: new Map(), commit: 0, startOffset: 32, endOffset: 32, limited: false });
});

Deno.test("readPageMap() ignores a torn last frame", async () => {
  const wal = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [3, 3]) });
  for (const cut of [1, 100, FS - 24, FS - 10, FS]) {
    assertMap(await pageMapOf(wal.subarray(0, wal.length - cut)), {
      pages: [[1, 0], [2, 1]],
      commit: 2,
      endFrame: 2,
    });
  }
});

Deno.test("readPageMap() ignores uncommitted trailing frames, even of committed pages", async () => {
  const wal = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [1], [3], [4]) });
  assertMap(await pageMapOf(wal), { pages: [[1, 0], [2, 1]], commit: 2, endFrame: 2 });
});

Deno.test("readPageMap() keeps the newest version of a page within and across transactions", async () => {
  const wal = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2], [1, 2], [2, 2], [3], [1, 3]) });
  assertMap(await pageMapOf(wal), { pages: [[1, 5], [2, 3], [3, 4]], commit: 3, endFrame: 6 });
});

Deno.test("readPageMap() drops pages beyond the final commit when the database shrinks", async () => {
  const shrunk = frames([1], [2], [3], [4, 4], [1], [2, 2]);
  assertMap(await pageMapOf(buildWal({ pageSize: PS, ...SALTS, frames: shrunk })), {
    pages: [[1, 4], [2, 5]],
    commit: 2,
    endFrame: 6,
  });
  const regrown = [...shrunk, ...frames([3, 3])];
  assertMap(await pageMapOf(buildWal({ pageSize: PS, ...SALTS, frames: regrown })), {
    pages: [[1, 4], [2, 5], [3, 6]],
    commit: 3,
    endFrame: 7,
  });
});

Deno.test("readPageMap() ignores same-salt leftovers of a rolled-back transaction", async () => {
  const rolledBack = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [3], [4], [5], [6, 6]) });
  const rewritten = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [7, 7]) });
  assertMap(await pageMapOf(overlay(rolledBack, rewritten)), {
    pages: [[1, 0], [2, 1], [7, 2]],
    commit: 7,
    endFrame: 3,
  });
});

Deno.test("readPageMap() ignores stale frames of older generations behind a restarted WAL", async () => {
  const old = buildWal({
    pageSize: PS,
    salt1: 5,
    salt2: 0x1234,
    frames: frames([1], [2, 2], [3, 3], [4, 4]),
  });
  const restarted = buildWal({
    pageSize: PS,
    salt1: 6,
    salt2: 0x9876,
    checkpointSeq: 1,
    frames: frames([3, 3]),
  });
  assertMap(await pageMapOf(overlay(old, restarted)), { pages: [[3, 0]], commit: 3, endFrame: 1 });
});

Deno.test("readPageMap() stops at the first commit boundary at or past maxBytes", async () => {
  const wal = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [3], [4], [5, 5], [6, 6]) });
  const first = { pages: [[1, 0], [2, 1]] as Array<[number, number]>, commit: 2, endFrame: 2 };
  const second = {
    pages: [...first.pages, [3, 2], [4, 3], [5, 4]] as Array<[number, number]>,
    commit: 5,
    endFrame: 5,
  };
  const all = { pages: [...second.pages, [6, 5]] as Array<[number, number]>, commit: 6, endFrame: 6 };
  for (
    const [maxBytes, expected, limited] of [
      [1, first, true],
      [2 * FS, first, true],
      [2 * FS + 1, second, true], // cannot cut inside the second transaction
      [5 * FS, second, true],
      [6 * FS, all, true], // like Litestream: reaching the limit at the last frame still counts
      [6 * FS + 1, all, false],
      [0, all, false],
    ] as const
  ) {
    const map = await pageMapOf(wal, { maxBytes });
    assertMap(map, expected);
    assert.equal(map.limited, limited, `maxBytes ${maxBytes}`);
  }
  const resumed = await pageMapOf(wal, { offset: at(2), maxBytes: 1 });
  assertMap(resumed, { pages: [[3, 2], [4, 3], [5, 4]], commit: 5, endFrame: 5 });
  assert.equal(resumed.limited, true);
});

Deno.test("readPageMap() resumes after a frame, seeding the chain from its stored checksum", async () => {
  const wal = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [3], [1, 3]) });
  const map = await pageMapOf(wal, { offset: at(2) });
  assertMap(map, { pages: [[1, 3], [3, 2]], commit: 3, endFrame: 4 });
  assert.equal(map.startOffset, at(2));
  // The previous frame's page is not re-verified (Litestream NewWALReaderWithOffset).
  const damaged = wal.slice();
  damaged[at(1) + 24]! ^= 1;
  assertMap(await pageMapOf(damaged, { offset: at(2) }), { pages: [[1, 3], [3, 2]], commit: 3, endFrame: 4 });
  assertMap(await pageMapOf(damaged), { pages: [], commit: 0, endFrame: 0 });
});

Deno.test("readPageMap() resuming at the end of the WAL reads nothing", async () => {
  const wal = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2]) });
  const map = await pageMapOf(wal, { offset: at(2) });
  assert.deepEqual(map, {
    pages: new Map(),
    commit: 0,
    startOffset: at(2),
    endOffset: at(2),
    limited: false,
  });
});

Deno.test("readPageMap() throws PrevFrameMismatchError when the previous frame has other salts or is missing", async () => {
  const old = buildWal({ pageSize: PS, salt1: 5, salt2: 7, frames: frames([1], [2, 2], [3, 3], [4, 4]) });
  const restarted = overlay(old, buildWal({ pageSize: PS, salt1: 6, salt2: 8, frames: frames([1, 2]) }));
  await assert.rejects(() => pageMapOf(restarted, { offset: at(3) }), PrevFrameMismatchError);
  assertMap(await pageMapOf(restarted, { offset: at(1) }), { pages: [], commit: 0, endFrame: 1 });
  const short = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2]) });
  await assert.rejects(() => pageMapOf(short, { offset: at(3) }), PrevFrameMismatchError);
  await assert.rejects(
    () => pageMapOf(short.subarray(0, short.length - 1), { offset: at(2) }),
    PrevFrameMismatchError,
  );
  for (const field of [8, 12]) {
    const oneSalt = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2], [3, 3]) });
    writeU32(oneSalt, at(1) + field, 0);
    await assert.rejects(
      () => pageMapOf(oneSalt, { offset: at(2) }),
      PrevFrameMismatchError,
      `salt at ${field}`,
    );
  }
  const error = await pageMapOf(restarted, { offset: at(3) }).catch((e: unknown) => e);
  assert.ok(error instanceof CorruptionError);
});

Deno.test("readPageMap() rejects offsets that are not frame boundaries", async () => {
  const wal = buildWal({ pageSize: PS, ...SALTS, frames: frames([1], [2, 2]) });
  const error = await pageMapOf(wal, { offset: at(1) + 8 }).catch((e: unknown) => e);
  assert.ok(error instanceof CorruptionError && !(error instanceof PrevFrameMismatchError));
  await assert.rejects(() => pageMapOf(wal, { offset: 31 }), RangeError);
  await assert.rejects(() => pageMapOf(wal, { maxBytes: -1 }), RangeError);
});

Deno.test("readPageMap() reads across chunk boundaries, in both byte orders, for 512 and 65536-byte pages", async () => {
  for (const ps of [512, 65536]) {
    for (const bigEndian of [false, true]) {
      // 130 frames of 64 KiB span three 4 MiB chunks; a transaction straddles each boundary.
      const specs: FrameSpec[] = [];
      for (let i = 0; i < 130; i++) specs.push({ pgno: (i % 40) + 1, commit: i % 7 === 6 ? 40 : 0 });
      const wal = buildWal({ pageSize: ps, bigEndian, salt1: 1, salt2: 2, frames: specs });
      const lastCommit = 7 * Math.floor(130 / 7) - 1; // frame 125
      const expected: Array<[number, number]> = [];
      for (let pgno = 1; pgno <= 40; pgno++) {
        let newest = pgno - 1;
        while (newest + 40 <= lastCommit) newest += 40;
        expected.push([pgno, newest]);
      }
      assertMap(await pageMapOf(wal), { pages: expected, commit: 40, endFrame: lastCommit + 1, ps });
      // A broken page in the second chunk ends the valid WAL there.
      const broken = wal.slice();
      broken[at(69, ps) + 30]! ^= 0x80;
      assert.equal((await pageMapOf(broken)).endOffset, at(63, ps), `ps ${ps}`);
    }
  }
});

Deno.test("frameSaltsUntil() lists the salts of three generations (Litestream frame-salts)", async () => {
  const gen = (salt1: number, salt2: number, count: number, seq: number) =>
    buildWal({
      pageSize: PS,
      salt1,
      salt2,
      checkpointSeq: seq,
      frames: frames(...Array.from({ length: count }, (_, i): [number] => [i + 1])),
    });
  const a = { salt1: 0x1b9a294b, salt2: 0x37f91916 };
  const b = { salt1: 0x1b9a294a, salt2: 0x031f195e };
  const c = { salt1: 0x1b9a2949, salt2: 0x13b3dd67 };
  const wal = overlay(
    overlay(gen(c.salt1, c.salt2, 10, 0), gen(b.salt1, b.salt2, 5, 1)),
    gen(a.salt1, a.salt2, 2, 2),
  );
  assert.equal(wal.length, 41232);
  using tmp = await openTempWal(wal);
  const header = await readWalHeader(tmp.file);
  assert.ok(header);
  assert.deepEqual(await frameSaltsUntil(tmp.file, header, { salt1: 0, salt2: 0 }), [a, b, c]);
  assert.deepEqual(await frameSaltsUntil(tmp.file, header, b), [a, b]);
  assert.deepEqual(await frameSaltsUntil(tmp.file, header, a), [a]);
  // Like Litestream, a torn last frame counts when its whole header is there.
  const twoGenerations = (keep: number) =>
    overlay(gen(b.salt1, b.salt2, 3, 1).subarray(0, at(2) + keep), gen(a.salt1, a.salt2, 2, 2));
  using whole = await openTempWal(twoGenerations(24));
  assert.deepEqual(await frameSaltsUntil(whole.file, header, { salt1: 0, salt2: 0 }), [a, b]);
  using torn = await openTempWal(twoGenerations(23));
  assert.deepEqual(await frameSaltsUntil(torn.file, header, { salt1: 0, salt2: 0 }), [a]);
});

Deno.test("readFramePage() returns a frame's page and rejects a torn one", async () => {
  const wal = buildWal({ pageSize: 512, ...SALTS, frames: frames([1], [2, 2]) });
  assert.equal(decodeWalHeader(wal)?.pageSize, 512);
  using tmp = await openTempWal(wal.subarray(0, wal.length - 1));
  assert.deepEqual(await readFramePage(tmp.file, at(0, 512), 512), samplePage(512, 1, 0));
  await assert.rejects(() => readFramePage(tmp.file, at(1, 512), 512), CorruptionError);
});
