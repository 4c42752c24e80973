import assert from "node:assert/strict";
import { concatBytes } from "../util/bytes.ts";
import { readBuffer } from "../util/read_buffers.ts";
import { CorruptionError } from "../util/errors.ts";
import { fixture, fixtureLtxNames, makeHeader, patternPage, streamOf } from "./_testing.ts";
import { CHECKSUM_FLAG, Crc64 } from "./checksum.ts";
import { decodeLtx, LtxDecoder } from "./decoder.ts";
import { encodeLtx } from "./encoder.ts";
import { encodeHeader, lockPgno, type LtxHeader } from "./header.ts";
import { compressBlock } from "./lz4_block.ts";
import { putUvarint } from "./page_index.ts";
import { decodeBatch, type PageBatch } from "./page_batch.ts";

/** Decodes through forEachBatch with the batch work done in this thread, collecting the pages. */
async function decodeInBatches(
  bytes: Uint8Array,
  chunkSize: number,
  options: { batchBytes?: number; inFlight?: number },
) {
  const decoder = new LtxDecoder(streamOf(bytes, chunkSize), { name: "x.ltx" });
  const pages: { pgno: number; data: Uint8Array }[] = [];
  await decoder.forEachBatch(async (batch: PageBatch) => {
    await new Promise((r) => setTimeout(r, 0)); // settle out of order with the reads
    return decodeBatch(batch, (pgno, data) => pages.push({ pgno, data: data.slice() }));
  }, options);
  const trailer = await decoder.finish();
  return { pages, trailer };
}

for (const folder of ["v051", "v052", "wal"]) {
  for (const name of fixtureLtxNames(folder)) {
    Deno.test(`decodeLtx() verifies ${folder}/${name}`, async () => {
      const { header, pages, trailer } = await decodeLtx(fixture(`${folder}/${name}`), name);
      assert.ok(pages.length > 0);
      assert.ok(pages.every((p) => p.data.length === header.pageSize && p.pgno <= header.commit));
      assert.ok(trailer.fileChecksum >= CHECKSUM_FLAG);
    });
  }
}

Deno.test("LtxDecoder gives the same pages whatever the stream chunking", async () => {
  const bytes = fixture("wal/0000000000000002-0000000000000002.ltx");
  const expected = await decodeLtx(bytes);
  for (const chunkSize of [1, 2, 7, 100, 1024, 4099]) {
    const decoder = new LtxDecoder(streamOf(bytes, chunkSize));
    await decoder.readHeader();
    const pages = [];
    for (let page = await decoder.readPage(); page !== null; page = await decoder.readPage()) {
      pages.push({ pgno: page.pgno, data: page.data.slice() });
    }
    assert.deepEqual(await decoder.finish(), expected.trailer, `chunk ${chunkSize}`);
    assert.deepEqual(pages, expected.pages.map((p) => ({ pgno: p.pgno, data: p.data.slice() })));
  }
});

Deno.test("LtxDecoder.forEachPage() visits the pages readPage() gives, for every chunking and encoding", async () => {
  for (const name of ["v052/snapshot-checksum.ltx", "v051/l0-0000000000000002-0000000000000002.ltx"]) {
    const bytes = fixture(name);
    const expected = await decodeLtx(bytes);
    for (const chunkSize of [1, 7, 1024, 4099, bytes.length]) {
      const decoder = new LtxDecoder(streamOf(bytes, chunkSize));
      const pages: { pgno: number; data: Uint8Array }[] = [];
      let awaited = 0;
      await decoder.forEachPage((pgno, data) => {
        pages.push({ pgno, data: data.slice() });
        // A visitor that waits must still see every page once, in order.
        if (pgno % 2 === 0) return new Promise((r) => setTimeout(() => r(void awaited++), 0));
      });
      assert.deepEqual(await decoder.finish(), expected.trailer, `${name} chunk ${chunkSize}`);
      assert.deepEqual(pages, expected.pages.map((p) => ({ pgno: p.pgno, data: p.data.slice() })));
      assert.ok(awaited > 0 || pages.every((p) => p.pgno % 2 === 1));
    }
  }
});

Deno.test("LtxDecoder.forEachPage() then finish() rejects a flipped bit in the page data", async () => {
  const good = fixture("v052/snapshot-checksum.ltx");
  for (const at of [110, 150, good.length - 40]) {
    const bad = good.slice();
    bad[at]! ^= 0x10;
    const decoder = new LtxDecoder(streamOf(bad, 64), { name: "x.ltx" });
    await assert.rejects(
      (async () => {
        await decoder.forEachPage(() => {});
        await decoder.finish();
      })(),
      (err: unknown) => err instanceof CorruptionError && /"x\.ltx"/.test(err.message),
      `byte ${at}`,
    );
  }
});

Deno.test("LtxDecoder.forEachBatch() gives the pages and trailer readPage() gives, however batched", async () => {
  const names = [
    "v052/snapshot-checksum.ltx",
    "v051/l0-0000000000000002-0000000000000002.ltx",
    "wal/0000000000000002-0000000000000002.ltx",
  ];
  for (const name of names) {
    const bytes = fixture(name);
    const expected = await decodeLtx(bytes);
    const want = expected.pages.map((p) => ({ pgno: p.pgno, data: p.data.slice() }));
    for (const chunkSize of [1, 7, 4099, bytes.length]) {
      for (const options of [{}, { batchBytes: 16, inFlight: 1 }, { batchBytes: 300, inFlight: 3 }]) {
        const { pages, trailer } = await decodeInBatches(bytes, chunkSize, options);
        const label = `${name} chunk ${chunkSize} ${JSON.stringify(options)}`;
        assert.deepEqual(trailer, expected.trailer, label);
        assert.deepEqual(pages, want, label);
      }
    }
  }
});

Deno.test("LtxDecoder.forEachBatch() rejects every single-bit flip of a snapshot", async () => {
  const good = fixture("v052/snapshot-checksum.ltx");
  for (let at = 0; at < good.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = good.slice();
      bad[at]! ^= 1 << bit;
      await assert.rejects(
        decodeInBatches(bad, 64, { batchBytes: 64, inFlight: 2 }),
        (err: unknown) => err instanceof CorruptionError && /"x\.ltx"/.test(err.message),
        `byte ${at} bit ${bit}`,
      );
    }
  }
});

async function assertCorrupt(bytes: Uint8Array, pattern: RegExp | undefined, label: string): Promise<void> {
  await assert.rejects(decodeLtx(bytes, "x.ltx"), (err: unknown) => {
    assert.ok(err instanceof CorruptionError, `${label}: ${err}`);
    assert.match(err.message, /"x\.ltx"/, label);
    if (pattern) assert.match(err.message, pattern, label);
    return true;
  }, label);
}

for (
  const name of [
    "v052/snapshot-checksum.ltx",
    "v052/l0-0000000000000002-0000000000000002.ltx",
    "v051/l0-0000000000000002-0000000000000002.ltx",
  ]
) {
  Deno.test(`LtxDecoder rejects every single-bit flip in ${name}`, async () => {
    const good = fixture(name);
    for (let at = 0; at < good.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = good.slice();
        bad[at]! ^= 1 << bit;
        await assertCorrupt(bad, undefined, `byte ${at} bit ${bit}`);
      }
    }
  });

  Deno.test(`LtxDecoder rejects every truncation of ${name} and any trailing byte`, async () => {
    const good = fixture(name);
    for (let length = 0; length < good.length; length++) {
      await assertCorrupt(good.subarray(0, length), undefined, `${length}`);
    }
    await assertCorrupt(
      concatBytes([good, Uint8Array.of(0)]),
      /unexpected bytes after the trailer/,
      "trailing",
    );
  });
}

interface Frame {
  pgno: number;
  data: Uint8Array;
}

/** Builds a block-page LTX file with a correct file checksum, optionally with a doctored index. */
function assemble(
  header: LtxHeader,
  frames: Frame[],
  doctor: { index?: Uint8Array; indexSize?: number } = {},
) {
  const crc = new Crc64();
  const parts: Uint8Array[] = [];
  const add = (bytes: Uint8Array, hashed: Uint8Array | null = bytes) => {
    parts.push(bytes);
    if (hashed) crc.update(hashed);
  };
  add(encodeHeader(header));
  const index = new Uint8Array(frames.length * 30 + 1);
  let indexLength = 0;
  let offset = 100;
  for (const { pgno, data } of frames) {
    const block = compressBlock(data);
    const head = new Uint8Array(10);
    new DataView(head.buffer).setUint32(0, pgno);
    head[5] = 1;
    new DataView(head.buffer).setUint32(6, block.length);
    add(head);
    add(block, data);
    indexLength = putUvarint(index, indexLength, pgno);
    indexLength = putUvarint(index, indexLength, offset);
    indexLength = putUvarint(index, indexLength, 10 + block.length);
    offset += 10 + block.length;
  }
  add(new Uint8Array(6));
  const area = doctor.index ?? index.slice(0, indexLength + 1);
  add(area);
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(doctor.indexSize ?? area.length));
  add(size);
  add(new Uint8Array(8));
  const checksum = new Uint8Array(8);
  new DataView(checksum.buffer).setBigUint64(0, CHECKSUM_FLAG | crc.digest());
  add(checksum, null);
  return concatBytes(parts);
}

const pageA: Frame = { pgno: 1, data: patternPage(512, 1) };
const pageB: Frame = { pgno: 2, data: patternPage(512, 2) };
const pageC: Frame = { pgno: 3, data: patternPage(512, 3) };

Deno.test("assemble() builds files the decoder accepts", async () => {
  const bytes = assemble(makeHeader({ commit: 3 }), [pageA, pageB, pageC]);
  assert.deepEqual(
    bytes,
    await encodeLtx(makeHeader({ commit: 3 }), [[1, pageA.data], [2, pageB.data], [3, pageC.data]]),
  );
  assert.equal((await decodeLtx(bytes)).pages.length, 3);
});

Deno.test("LtxDecoder checks page order, bounds and snapshot contiguity even with a valid checksum", async () => {
  const incremental = makeHeader({ minTxid: 2n, maxTxid: 2n, commit: 3 });
  await assertCorrupt(assemble(incremental, [pageB, pageA]), /page 1 follows page 2/, "order");
  await assertCorrupt(assemble(incremental, [pageB, pageB]), /page 2 follows page 2/, "duplicate");
  await assertCorrupt(
    assemble({ ...incremental, commit: 2 }, [pageA, pageC]),
    /page 3 is beyond commit 2/,
    "bounds",
  );
  await assertCorrupt(
    assemble(makeHeader({ commit: 3 }), [pageA, pageC]),
    /snapshot page 3 follows page 1/,
    "gap",
  );
  await assertCorrupt(
    assemble(makeHeader({ commit: 3 }), [pageA, pageB]),
    /has 2 pages but commit 3 needs 3/,
    "short",
  );
  const lock = { pgno: lockPgno(512), data: pageA.data };
  await assertCorrupt(
    assemble({ ...incremental, commit: lock.pgno + 1 }, [lock]),
    /is the lock page/,
    "lock",
  );
});

Deno.test("LtxDecoder checks the page index against the frames even with a valid checksum", async () => {
  const header = makeHeader({ commit: 2 });
  const good = assemble(header, [pageA, pageB]);
  const area = good.subarray(
    good.length - 24 - Number(new DataView(good.buffer).getBigUint64(good.length - 24)),
    good.length - 24,
  );
  const wrongSize = area.slice();
  wrongSize[2]! += 1;
  await assertCorrupt(
    assemble(header, [pageA, pageB], { index: wrongSize }),
    /page index .* does not match/,
    "size",
  );
  await assertCorrupt(
    assemble(header, [pageA, pageB], { index: area.subarray(3) }),
    /does not match/,
    "missing",
  );
  await assertCorrupt(
    assemble(header, [pageA, pageB], { indexSize: area.length + 1 }),
    /size field says/,
    "field",
  );
});

Deno.test("a block that decompresses to other than a page is refused, read page by page or in batches", async () => {
  const header = makeHeader({ flags: 0, commit: 2 }); // 512-byte pages
  for (const size of [100, 511, 513]) {
    // A short page decodes and is the wrong size; a long one overflows the page and does not decode.
    const why = size < 512 ? `decompresses to ${size} bytes, not 512` : "does not decompress";
    // The file checksum covers the short data, so only the page-size check can catch it.
    const bytes = assemble(header, [{ pgno: 1, data: patternPage(512, 1) }, {
      pgno: 2,
      data: patternPage(size, 2),
    }]);
    await assertCorrupt(
      bytes,
      new RegExp(`page 2 ${why}`),
      `readPage ${size}`,
    );
    await assert.rejects(
      decodeInBatches(bytes, 1024, {}),
      new RegExp(`page 2 ${why}`),
      `forEachBatch ${size}`,
    );
  }
});

Deno.test("LtxDecoder verifies the post-apply checksum of checksummed snapshots", async () => {
  const bytes = fixture("v052/snapshot-checksum.ltx").slice();
  const { pages } = await decodeLtx(bytes);
  const header = makeHeader({ flags: 0, commit: 3 });
  const frames = pages.map((p) => ({ pgno: p.pgno, data: p.data }));
  await assertCorrupt(assemble(header, frames), /post-apply checksum/, "post-apply");
});

Deno.test("LtxDecoder.cancel() releases the stream", async () => {
  let cancelled = false;
  const bytes = fixture("v052/l1-0000000000000001-0000000000000002.ltx");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, 150));
    },
    cancel() {
      cancelled = true;
    },
  });
  const decoder = new LtxDecoder(stream);
  await decoder.readHeader();
  await decoder.cancel();
  assert.ok(cancelled);
});

Deno.test("LtxDecoder hands the read buffers it still holds back to their pool once finished", async () => {
  const size = 24 << 10; // a pool of its own
  const pages: [number, Uint8Array][] = Array.from({ length: 40 }, (_, i) => [i + 1, patternPage(4096, i)]);
  const bytes = await encodeLtx(makeHeader({ pageSize: 4096, commit: 40 }), pages);
  const handedOut: ArrayBufferLike[] = [];
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const chunk = readBuffer(size).subarray(0, Math.min(size, bytes.length - at));
      chunk.set(bytes.subarray(at, at + chunk.length));
      handedOut.push(chunk.buffer);
      at += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  const decoder = new LtxDecoder(stream);
  while (await decoder.readPage() !== null);
  await decoder.finish();
  // The file's last chunk was in the decoder's hands at its end; it is a spare again now.
  const spare = readBuffer(size);
  assert.equal(spare.buffer, handedOut.at(-1));
});
