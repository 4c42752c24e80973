import assert from "node:assert/strict";
import { CorruptionError } from "../util/errors.ts";
import { collector, fixture, makeHeader, patternPage, randomBytes, streamOf } from "./_testing.ts";
import { readBuffer } from "../util/read_buffers.ts";
import { decodeLtx, LtxDecoder } from "./decoder.ts";
import { encodeLtx, LtxEncoder } from "./encoder.ts";
import { lockPgno, type LtxHeader } from "./header.ts";
import { compactLtx, mergedHeader, mergePages } from "./merge.ts";

const L0_1 = "l0-0000000000000001-0000000000000001.ltx";
const L0_2 = "l0-0000000000000002-0000000000000002.ltx";
const L1 = "l1-0000000000000001-0000000000000002.ltx";

for (const [version, pageEncoding] of [["v052", "block"], ["v051", "frame"]] as const) {
  Deno.test(`compactLtx() of ${version} l0 files reproduces the Go l1 file byte for byte`, async () => {
    const out = collector();
    const { header, size } = await compactLtx(
      [L0_1, L0_2].map((name) => ({ stream: streamOf(fixture(`${version}/${name}`), 64), name })),
      out.sink,
      { pageEncoding },
    );
    const expected = fixture(`${version}/${L1}`);
    assert.equal(size, expected.length);
    assert.deepEqual(out.bytes(), expected);
    assert.deepEqual(header, (await decodeLtx(expected)).header);
  });
}

/** Restores `paths` into a database image: pages 1..commit, zeros at the lock page. */
async function restoreImage(paths: string[]): Promise<Uint8Array> {
  const decoders = paths.map((path) => new LtxDecoder(streamOf(fixture(path), 100), { name: path }));
  const headers: LtxHeader[] = [];
  for (const decoder of decoders) headers.push(await decoder.readHeader());
  const header = mergedHeader(headers, paths);
  const image = new Uint8Array(header.commit * header.pageSize);
  let next = 1;
  for await (const page of mergePages(decoders, header.commit)) {
    if (next === lockPgno(header.pageSize)) next++;
    assert.equal(page.pgno, next++);
    image.set(page.data, (page.pgno - 1) * header.pageSize);
  }
  assert.equal(next - 1, header.commit);
  return image;
}

Deno.test("mergePages() restores v051 l0 files to restored.db", async () => {
  assert.deepEqual(await restoreImage([`v051/${L0_1}`, `v051/${L0_2}`]), fixture("v051/restored.db"));
});

Deno.test("mergePages() restores v052 l1 to restored.db", async () => {
  assert.deepEqual(await restoreImage([`v052/${L1}`]), fixture("v052/restored.db"));
});

Deno.test("mergePages() restores the SQLite WAL L0 files to checkpointed-2.db", async () => {
  const paths = ["wal/0000000000000001-0000000000000001.ltx", "wal/0000000000000002-0000000000000002.ltx"];
  assert.deepEqual(await restoreImage(paths), fixture("wal/checkpointed-2.db"));
});

Deno.test("mergedHeader() takes range and pre-apply state from the first, commit and time from the last", () => {
  const header = mergedHeader([
    makeHeader({
      minTxid: 5n,
      maxTxid: 6n,
      commit: 9,
      timestamp: 1,
      walOffset: 32,
      walSize: 10,
      walSalt1: 1,
    }),
    makeHeader({ minTxid: 7n, maxTxid: 9n, commit: 3, timestamp: 2, nodeId: 4n }),
  ]);
  assert.deepEqual(header, makeHeader({ minTxid: 5n, maxTxid: 9n, commit: 3, timestamp: 2 }));
});

Deno.test("mergedHeader() allows overlap that extends the range", () => {
  const header = mergedHeader([
    makeHeader({ minTxid: 1n, maxTxid: 5n }),
    makeHeader({ minTxid: 3n, maxTxid: 8n }),
  ]);
  assert.equal(header.maxTxid, 8n);
});

Deno.test("mergedHeader() rejects gaps, non-extending files and page size changes, naming the file", () => {
  const first = makeHeader({ minTxid: 1n, maxTxid: 5n });
  assert.throws(
    () => mergedHeader([first, makeHeader({ minTxid: 7n, maxTxid: 7n })], ["a.ltx", "b.ltx"]),
    (err) => {
      assert.ok(err instanceof CorruptionError);
      assert.match(
        err.message,
        /have up to 0000000000000005 but next file "b\.ltx" starts at 0000000000000007/,
      );
      return true;
    },
  );
  assert.throws(() => mergedHeader([first, makeHeader({ minTxid: 2n, maxTxid: 5n })]), CorruptionError);
  assert.throws(
    () => mergedHeader([first, makeHeader({ minTxid: 6n, maxTxid: 6n, pageSize: 1024 })], ["a", "b"]),
    /"b" has page size 1024 but "a" has 512/,
  );
  assert.throws(() => mergedHeader([]), /none given/);
});

async function file(header: Partial<LtxHeader>, pages: [number, number][]): Promise<Uint8Array> {
  return await encodeLtx(makeHeader(header), pages.map(([pgno, seed]) => [pgno, patternPage(512, seed)]));
}

Deno.test("mergePages() takes each page from the newest input and drops pages beyond commit", async () => {
  const inputs = [
    await file({ commit: 5 }, [[1, 10], [2, 11], [3, 12], [4, 13], [5, 14]]),
    await file({ minTxid: 2n, maxTxid: 2n, commit: 5 }, [[2, 21], [5, 24]]),
    await file({ minTxid: 3n, maxTxid: 3n, commit: 4 }, [[2, 31], [3, 32]]),
  ];
  const decoders = inputs.map((bytes) => new LtxDecoder(streamOf(bytes)));
  for (const decoder of decoders) await decoder.readHeader();
  const merged = [];
  for await (const page of mergePages(decoders, 4)) merged.push([page.pgno, page.data[0]]);
  assert.deepEqual(merged, [[1, 10], [2, 31], [3, 32], [4, 13]]);
});

Deno.test("mergePages() verifies every input at the end", async () => {
  const good = await file({ commit: 2 }, [[1, 1], [2, 2]]);
  const bad = (await file({ minTxid: 2n, maxTxid: 2n, commit: 2 }, [[2, 3]])).slice();
  bad[bad.length - 1]! ^= 1;
  const decoders = [good, bad].map((bytes, i) => new LtxDecoder(streamOf(bytes), { name: `in${i}` }));
  for (const decoder of decoders) await decoder.readHeader();
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const page of mergePages(decoders, 2)) seen.push(page.pgno);
  }, /"in1": file checksum mismatch/);
  assert.deepEqual(seen, [1, 2]);
});

Deno.test("mergePages() cancels its inputs when the consumer stops early", async () => {
  let cancelled = 0;
  const bytes = await file({ commit: 3 }, [[1, 1], [2, 2], [3, 3]]);
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(bytes.slice(0, 200)),
      cancel: () => void cancelled++,
    });
  const decoders = [new LtxDecoder(stream()), new LtxDecoder(stream())];
  for (const decoder of decoders) await decoder.readHeader();
  for await (const _ of mergePages(decoders, 3)) break;
  assert.equal(cancelled, 2);
});

Deno.test("compactLtx() of a snapshot and an incremental keeps the snapshot contiguous", async () => {
  const inputs = [
    { stream: streamOf(await file({ commit: 3 }, [[1, 1], [2, 2], [3, 3]])), name: "a" },
    { stream: streamOf(await file({ minTxid: 2n, maxTxid: 3n, commit: 4 }, [[3, 9], [4, 8]])), name: "b" },
  ];
  const out = collector();
  const { header } = await compactLtx(inputs, out.sink);
  assert.equal(header.maxTxid, 3n);
  const decoded = await decodeLtx(out.bytes());
  assert.deepEqual(decoded.pages.map((p) => [p.pgno, p.data[0]]), [[1, 1], [2, 2], [3, 9], [4, 8]]);
});

Deno.test("a snapshot across the lock page skips it, and restore writes zeros there", async () => {
  const pageSize = 65536;
  const lock = lockPgno(pageSize);
  const commit = lock + 1;
  const zero = new Uint8Array(pageSize);
  const marker = patternPage(pageSize, 7);
  function* pages(): Generator<[number, Uint8Array]> {
    for (let pgno = 1; pgno <= commit; pgno++) {
      if (pgno !== lock) yield [pgno, pgno === commit ? marker : zero];
    }
  }
  const bytes = await encodeLtx(makeHeader({ pageSize, commit }), pages());
  const decoder = new LtxDecoder(streamOf(bytes, 1 << 20));
  await decoder.readHeader();
  let expected = 1;
  for await (const page of mergePages([decoder], commit)) {
    if (expected === lock) expected++;
    assert.equal(page.pgno, expected++);
  }
  assert.equal(expected, commit + 1);
});

/** An LZ4 block of `data` as literals only: valid, but far larger than what the compressor makes of it. */
function literalBlock(data: Uint8Array): Uint8Array {
  const extra = data.length - 15;
  const lengthBytes = [...Array(Math.floor(extra / 255)).fill(255), extra % 255];
  return Uint8Array.from([0xf0, ...lengthBytes, ...data]);
}

Deno.test("compactLtx() writes each winning page's stored block instead of compressing it again", async () => {
  const zeros = new Uint8Array(512);
  const ones = new Uint8Array(512).fill(1);
  const input = async (txid: bigint, pages: [number, Uint8Array][]) => {
    const out = collector();
    const commit = pages.at(-1)![0];
    const encoder = new LtxEncoder(out.sink, makeHeader({ minTxid: txid, maxTxid: txid, commit }));
    for (const [pgno, data] of pages) await encoder.encodePage(pgno, data, literalBlock(data));
    await encoder.finish();
    return { stream: streamOf(out.bytes(), 100), name: `input ${txid}` };
  };
  const out = collector();
  await compactLtx(
    [await input(1n, [[1, zeros], [2, zeros]]), await input(2n, [[2, ones], [3, ones]])],
    out.sink,
  );
  const decoder = new LtxDecoder(streamOf(out.bytes()), { reuseBlocks: true });
  await decoder.readHeader();
  const pages = [];
  for (let page = await decoder.readPage(); page; page = await decoder.readPage()) {
    // With reuseBlocks the data is scratch, valid until the next page decodes.
    pages.push([page.pgno, page.data[0]]);
    assert.deepEqual(page.block, literalBlock(page.data));
  }
  await decoder.finish();
  assert.deepEqual(pages, [[1, 0], [2, 1], [3, 1]]);
  // Without a stored block the encoder compresses: 512 equal bytes take a few bytes, not 515.
  const fresh = await encodeLtx(makeHeader({ commit: 1 }), [[1, zeros]]);
  assert.ok(fresh.length < out.bytes().length / 3);
});

/** A stream over `bytes` in chunks of recycled read buffers, as file streams hand them out. */
function pooledStreamOf(bytes: Uint8Array, chunkSize: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const chunk = readBuffer().subarray(0, Math.min(chunkSize, bytes.length - at));
      chunk.set(bytes.subarray(at, at + chunk.length));
      at += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

Deno.test("compactLtx() writes each stored block before its input's read buffer is recycled", async () => {
  const inputs: Uint8Array[] = [];
  const expected = new Map<number, Uint8Array>();
  for (let txid = 1; txid <= 4; txid++) {
    const pages: [number, Uint8Array][] = [];
    for (let pgno = txid; pgno <= 40; pgno += txid) pages.push([pgno, randomBytes(512, txid * 1000 + pgno)]);
    const out = collector();
    const encoder = new LtxEncoder(
      out.sink,
      makeHeader({ minTxid: BigInt(txid), maxTxid: BigInt(txid), commit: 40 }),
    );
    for (const [pgno, data] of pages) {
      await encoder.encodePage(pgno, data);
      expected.set(pgno, data);
    }
    await encoder.finish();
    inputs.push(out.bytes());
  }
  const out = collector();
  await compactLtx(
    inputs.map((bytes, i) => ({ stream: pooledStreamOf(bytes, 700), name: `input ${i}` })),
    out.sink,
  );
  const { pages } = await decodeLtx(out.bytes());
  assert.deepEqual(pages.map((p) => p.pgno), [...expected.keys()].sort((a, b) => a - b));
  for (const page of pages) assert.deepEqual(page.data, expected.get(page.pgno), `page ${page.pgno}`);
});
