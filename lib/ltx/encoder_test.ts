import assert from "node:assert/strict";
import { concatBytes } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { collector, fixture, fixtureLtxNames, makeHeader, randomBytes, textBytes } from "./_testing.ts";
import { decodeLtx } from "./decoder.ts";
import { encodeLtx, LtxEncoder, type LtxEncoderOptions } from "./encoder.ts";
import { lockPgno, type LtxHeader } from "./header.ts";
import { decodePageIndex } from "./page_index.ts";

async function reencode(bytes: Uint8Array, options: LtxEncoderOptions): Promise<Uint8Array> {
  const { header, pages, trailer } = await decodeLtx(bytes);
  const out = collector();
  const encoder = new LtxEncoder(out.sink, header, options);
  for (const page of pages) await encoder.encodePage(page.pgno, page.data);
  const result = await encoder.finish(trailer.postApplyChecksum);
  assert.deepEqual(result.trailer, trailer);
  assert.equal(result.size, bytes.length);
  return out.bytes();
}

for (const name of fixtureLtxNames("v052")) {
  Deno.test(`LtxEncoder reproduces v052/${name} byte for byte (block pages)`, async () => {
    const bytes = fixture(`v052/${name}`);
    assert.deepEqual(await reencode(bytes, { pageEncoding: "block" }), bytes);
  });
}

for (const name of fixtureLtxNames("v051")) {
  Deno.test(`LtxEncoder reproduces v051/${name} byte for byte (frame pages)`, async () => {
    const bytes = fixture(`v051/${name}`);
    assert.deepEqual(await reencode(bytes, { pageEncoding: "frame" }), bytes);
  });
}

Deno.test("encodeLtx() writes the Go page index of two 1024-byte pages: 100/36 and 136/36", async () => {
  const header = makeHeader({ pageSize: 1024, commit: 2 });
  const bytes = await encodeLtx(header, [[1, new Uint8Array(1024).fill(0x32)], [
    2,
    new Uint8Array(1024).fill(0x33),
  ]]);
  const indexSize = Number(new DataView(bytes.buffer).getBigUint64(bytes.length - 24));
  const index = decodePageIndex(bytes.subarray(bytes.length - 24 - indexSize, bytes.length - 16));
  assert.deepEqual(index, [{ pgno: 1, offset: 100, size: 36 }, { pgno: 2, offset: 136, size: 36 }]);
  assert.deepEqual(bytes.subarray(104, 106), Uint8Array.of(0, 1));
});

Deno.test("v052 snapshot-checksum has the index bytes and file checksum of spec §6.2", async () => {
  const bytes = fixture("v052/snapshot-checksum.ltx");
  const { trailer } = await decodeLtx(bytes);
  assert.equal(trailer.fileChecksum, 0x9ae886fa63af44f0n);
  assert.equal(trailer.postApplyChecksum, 0xe9a99638f9eddcadn);
  assert.deepEqual([...bytes.subarray(bytes.length - 36, bytes.length - 24)], [
    0x01,
    0x64,
    0x29,
    0x02,
    0x8d,
    0x01,
    0x29,
    0x03,
    0xb6,
    0x01,
    0x29,
    0x00,
  ]);
  const v051 = await decodeLtx(fixture("v051/snapshot-checksum.ltx"));
  assert.equal(v051.trailer.fileChecksum, 0xac9d12624512e0e5n);
});

async function encodeError(header: LtxHeader, pgnos: number[]): Promise<CorruptionError> {
  const encoder = new LtxEncoder(() => {}, header);
  try {
    for (const pgno of pgnos) await encoder.encodePage(pgno, new Uint8Array(header.pageSize));
    await encoder.finish();
  } catch (err) {
    assert.ok(err instanceof CorruptionError, String(err));
    return err;
  }
  assert.fail(`pages ${pgnos} were accepted`);
}

Deno.test("LtxEncoder rejects pages that break the ordering rules", async () => {
  const incremental = makeHeader({ minTxid: 5n, maxTxid: 5n, commit: 10 });
  assert.match((await encodeError(incremental, [3, 2])).message, /out-of-order page numbers: 3,2/);
  assert.match((await encodeError(incremental, [3, 3])).message, /out-of-order/);
  assert.match((await encodeError(incremental, [11])).message, /out-of-bounds for commit size 10/);
  assert.match((await encodeError(incremental, [0])).message, /page number required/);
  const snapshot = makeHeader({ commit: 10 });
  assert.match((await encodeError(snapshot, [2])).message, /must start with page number 1/);
  assert.match(
    (await encodeError(snapshot, [1, 3])).message,
    /nonsequential page numbers in snapshot transaction: 1,3/,
  );
  assert.match((await encodeError(snapshot, [1, 2])).message, /has 2 pages but commit 10 needs 10/);
  const big = makeHeader({ minTxid: 2n, maxTxid: 2n, commit: lockPgno(512) + 5 });
  assert.match((await encodeError(big, [lockPgno(512)])).message, /cannot encode lock page/);
});

Deno.test("LtxEncoder rejects a page of the wrong size and use after finish", async () => {
  const encoder = new LtxEncoder(() => {}, makeHeader({ commit: 1 }));
  await assert.rejects(
    encoder.encodePage(1, new Uint8Array(511)),
    /invalid page buffer size: 511, expecting 512/,
  );
  await encoder.encodePage(1, new Uint8Array(512));
  await encoder.finish();
  await assert.rejects(encoder.encodePage(1, new Uint8Array(512)), /finished/);
});

Deno.test("LtxEncoder enforces the trailer rules", async () => {
  const noChecksum = new LtxEncoder(() => {}, makeHeader({ minTxid: 2n, maxTxid: 2n }));
  await assert.rejects(noChecksum.finish(1n << 63n), /post-apply checksum not allowed/);
  const withChecksum = new LtxEncoder(() => {}, makeHeader({ flags: 0, commit: 0 }));
  await assert.rejects(withChecksum.finish(0n), /post-apply checksum required/);
  const empty = new LtxEncoder(() => {}, makeHeader({ flags: 0, commit: 0 }));
  const { trailer } = await empty.finish(1n << 63n);
  assert.ok(trailer.fileChecksum >= 1n << 63n);
});

Deno.test("LtxEncoder writes a file with no pages (WAL offset 32, size 0)", async () => {
  const header = makeHeader({ minTxid: 3n, maxTxid: 3n, walOffset: 32, walSalt1: 1, walSalt2: 2 });
  const bytes = await encodeLtx(header, []);
  const decoded = await decodeLtx(bytes);
  assert.deepEqual(decoded.header, header);
  assert.equal(decoded.pages.length, 0);
});

for (const pageEncoding of ["block", "frame"] as const) {
  Deno.test(`64 KiB pages round trip, compressible and incompressible (${pageEncoding})`, async () => {
    const pages: [number, Uint8Array][] = [[1, textBytes(65536)], [2, randomBytes(65536)], [
      3,
      new Uint8Array(65536),
    ]];
    const bytes = await encodeLtx(makeHeader({ pageSize: 65536, commit: 3 }), pages, { pageEncoding });
    const decoded = await decodeLtx(bytes);
    assert.deepEqual(decoded.pages.map((p) => [p.pgno, p.data]), pages);
    assert.equal(bytes[105], pageEncoding === "block" ? 1 : 0);
  });
}

Deno.test("LtxEncoder leaves a chunk untouched until the sink's promise settles", async () => {
  const header = makeHeader({ pageSize: 4096, commit: 400 });
  const pages = Array.from(
    { length: 400 },
    (_, i): [number, Uint8Array] => [i + 1, randomBytes(4096, i + 1)],
  );
  const copies: Uint8Array[] = [];
  let changed = 0;
  const encoder = new LtxEncoder(async (chunk) => {
    const copy = chunk.slice();
    copies.push(copy);
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (chunk.some((b, i) => b !== copy[i])) changed++;
  }, header);
  for (const [pgno, data] of pages) await encoder.encodePage(pgno, data);
  const { size } = await encoder.finish();
  assert.equal(changed, 0);
  assert.ok(copies.length > 2, "the batch buffers were reused");
  assert.equal(concatBytes(copies).length, size);
  assert.deepEqual(concatBytes(copies), await encodeLtx(header, pages));
});

Deno.test("LtxEncoder batches frames, and needs a page's bytes only until encodePage() returns", async () => {
  const pageSize = 4096;
  const commit = 300;
  const pageOf = (pgno: number) => pgno % 3 ? textBytes(pageSize, pgno) : randomBytes(pageSize, pgno);
  const header = makeHeader({ pageSize, commit });
  const expected = await encodeLtx(header, Array.from({ length: commit }, (_, i) => [i + 1, pageOf(i + 1)]));
  // One buffer reused for every page, as PageSource hands out views of its read window.
  const shared = new Uint8Array(pageSize);
  const kept: Uint8Array[] = [];
  const encoder = new LtxEncoder((chunk) => void kept.push(chunk.slice()), header);
  for (let pgno = 1; pgno <= commit; pgno++) {
    shared.set(pageOf(pgno));
    await encoder.encodePage(pgno, shared);
    shared.fill(0xee);
  }
  await encoder.finish();
  assert.deepEqual(concatBytes(kept), expected);
  assert.ok(kept.length < commit / 10, `${kept.length} sink calls for ${commit} pages`);
  assert.deepEqual(
    (await decodeLtx(expected)).pages.map((p) => p.data),
    Array.from({ length: commit }, (_, i) => pageOf(i + 1)),
  );
});

Deno.test("LtxEncoder never calls a slow sink again before its last call settled", async () => {
  const header = makeHeader({ pageSize: 4096, commit: 400 });
  const pages = Array.from(
    { length: 400 },
    (_, i): [number, Uint8Array] => [i + 1, randomBytes(4096, i + 1)],
  );
  let active = 0;
  let maxActive = 0;
  const chunks: Uint8Array[] = [];
  const encoder = new LtxEncoder(async (chunk) => {
    maxActive = Math.max(maxActive, ++active);
    await new Promise((resolve) => setTimeout(resolve, 1));
    chunks.push(chunk.slice());
    active--;
  }, header);
  for (const [pgno, data] of pages) await encoder.encodePage(pgno, data);
  await encoder.finish();
  assert.equal(maxActive, 1);
  assert.equal(active, 0);
  assert.deepEqual(concatBytes(chunks), await encodeLtx(header, pages));
});

Deno.test("LtxEncoder reports a sink failure from a later call, never as an unhandled rejection", async () => {
  const header = makeHeader({ pageSize: 4096, commit: 400 });
  let calls = 0;
  const encoder = new LtxEncoder(async () => {
    await Promise.resolve();
    if (++calls === 1) throw new Error("disk full");
  }, header);
  let pgno = 1;
  while (calls === 0) await encoder.encodePage(pgno, randomBytes(4096, pgno++));
  // The caller pauses (or gives up) while the failed write is pending: no unhandled rejection.
  await new Promise((resolve) => setTimeout(resolve, 10));
  await assert.rejects(async () => {
    for (; pgno <= 400; pgno++) await encoder.encodePage(pgno, randomBytes(4096, pgno));
    await encoder.finish();
  }, /disk full/);
});

Deno.test("LtxEncoder hands its batch buffers back once finished: the next file reuses them", async () => {
  const header = makeHeader({ pageSize: 4096, commit: 200, minTxid: 1n, maxTxid: 1n });
  const encodeOnce = async () => {
    const buffers = new Set<ArrayBufferLike>();
    const copies: Uint8Array[] = [];
    const encoder = new LtxEncoder((chunk) => {
      buffers.add(chunk.buffer);
      copies.push(chunk.slice());
    }, header);
    for (let pgno = 1; pgno <= 200; pgno++) await encoder.encodePage(pgno, randomBytes(4096, pgno));
    await encoder.finish();
    return { buffers, bytes: concatBytes(copies) };
  };
  const first = await encodeOnce();
  const second = await encodeOnce();
  assert.ok(
    [...second.buffers].some((b) => first.buffers.has(b)),
    "a batch buffer of the first file was reused",
  );
  assert.deepEqual(second.bytes, first.bytes);
  assert.equal((await decodeLtx(second.bytes)).pages.length, 200);
});
