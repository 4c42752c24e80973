import assert from "node:assert/strict";
import { BufferPool } from "../util/buffer_pool.ts";
import { chunksStream } from "../util/streams.ts";
import { readWhole, sendFileParts, sendInParts } from "./upload_parts.ts";
import { digestRange, type FileRange } from "./file_range.ts";
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

const data = Uint8Array.from({ length: 1000 }, (_, i) => i % 253);
const chunked = (bytes: Uint8Array, size = 37) =>
  chunksStream(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.slice(i * size, (i + 1) * size)),
  );

/** A part sender that refuses part 2 and holds the others until aborted, noting which were. */
function refuseSecondPart(aborted: number[]) {
  return (_: unknown, i: number, signal: AbortSignal): Promise<void> => {
    if (i === 1) return Promise.reject(new Error("part 2 refused"));
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => {
        aborted.push(i);
        reject(new Error("aborted"));
      })
    );
  };
}

Deno.test("sendInParts cuts parts of the pool's size, keeps `concurrency` in flight and reuses buffers", async () => {
  const pool = new BufferPool(100, 4);
  const got: Uint8Array[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let inFlight = 0;
  let most = 0;
  await sendInParts(
    chunked(data),
    { sizeBytes: 1000, pool, concurrency: 3, what: "upload x" },
    async (part, i) => {
      most = Math.max(most, ++inFlight);
      buffers.add(part.buffer);
      await new Promise((r) => setTimeout(r, 2));
      got[i] = part.slice();
      inFlight--;
    },
  );
  assert.deepEqual(got.map((p) => p.length), Array(10).fill(100));
  assert.deepEqual(new Uint8Array(got.flatMap((p) => [...p])), data);
  assert.equal(most, 3);
  assert.ok(buffers.size <= 4, `${buffers.size} buffers for 10 parts`);
});

Deno.test("sendInParts: a failing part aborts the others and is the error thrown; sizes are checked", async () => {
  const pool = new BufferPool(100, 4);
  const aborted: number[] = [];
  await assert.rejects(
    () =>
      sendInParts(
        chunked(data),
        { sizeBytes: 1000, pool, concurrency: 3, what: "upload x" },
        refuseSecondPart(aborted),
      ),
    /part 2 refused/,
  );
  assert.deepEqual(aborted, [0]);
  const options = { pool, concurrency: 2, what: "upload x" };
  await assert.rejects(
    () => sendInParts(chunked(data), { ...options, sizeBytes: 999 }, () => Promise.resolve()),
    {
      message: "Cannot upload x: the body had more than 999 bytes, not the 999 announced",
    },
  );
  await assert.rejects(
    () => sendInParts(chunked(data), { ...options, sizeBytes: 1001 }, () => Promise.resolve()),
    {
      message: "Cannot upload x: the body had 1000 bytes, not the 1001 announced",
    },
  );
});

Deno.test("readWhole reads exactly the announced size, or fails saying so", async () => {
  assert.deepEqual(await readWhole(chunked(data), 1000, "upload x"), data);
  await assert.rejects(
    () => readWhole(chunked(data), 10, "upload x"),
    /more than 10 bytes, not the 10 announced/,
  );
  await assert.rejects(
    () => readWhole(chunked(data), 2000, "upload x"),
    /had 1000 bytes, not the 2000 announced/,
  );
});

Deno.test("sendFileParts hands out byte ranges, `concurrency` at once, each after `pace`; a failure aborts the rest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f`;
    await Deno.writeFile(path, data);
    const ranges: FileRange[] = [];
    let inFlight = 0;
    let most = 0;
    let paced = 0;
    let pacedBeforeSend = true;
    await sendFileParts(
      path,
      {
        sizeBytes: 1000,
        partSize: 300,
        concurrency: 2,
        what: "upload x",
        pace: () => Promise.resolve(void paced++),
      },
      async (range, i) => {
        if (paced <= i) pacedBeforeSend = false;
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 2));
        ranges[i] = range;
        inFlight--;
      },
    );
    assert.deepEqual(ranges.map((r) => [r.start, r.length]), [[0, 300], [300, 300], [600, 300], [900, 100]]);
    assert.equal(most, 2);
    assert.equal(paced, 4);
    assert.ok(pacedBeforeSend, "each part waits for pace first");
    // The digests read the range itself: the CRC-32 of bytes 300..600 is S3's base64 of it.
    const digests = await digestRange(ranges[1]!, { sha256: true, crc32: true }, "upload x");
    assert.equal(digests.sha256, createHash("sha256").update(data.subarray(300, 600)).digest("hex"));
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, crc32(data.subarray(300, 600)));
    assert.equal(digests.crc32, btoa(String.fromCharCode(...crc)));

    const aborted: number[] = [];
    let started = 0;
    await assert.rejects(
      () =>
        sendFileParts(
          path,
          { sizeBytes: 1000, partSize: 100, concurrency: 3, what: "upload x" },
          (range, i, signal) => {
            started++;
            return refuseSecondPart(aborted)(range, i, signal);
          },
        ),
      /part 2 refused/,
    );
    assert.deepEqual(aborted.sort(), [0, 2]);
    assert.equal(started, 3, "no part starts after the failure");
    await assert.rejects(
      () =>
        sendFileParts(
          path,
          { sizeBytes: 999, partSize: 100, concurrency: 1, what: "upload x" },
          () => Promise.resolve(),
        ),
      { message: "Cannot upload x: the file has 1000 bytes, not the 999 announced" },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
