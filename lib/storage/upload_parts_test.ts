import assert from "node:assert/strict";
import { BufferPool } from "../util/buffer_pool.ts";
import { chunksStream } from "../util/streams.ts";
import { readWhole, sendInParts } from "./upload_parts.ts";

const data = Uint8Array.from({ length: 1000 }, (_, i) => i % 253);
const chunked = (bytes: Uint8Array, size = 37) =>
  chunksStream(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.slice(i * size, (i + 1) * size)),
  );

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
        (_, i, signal) => {
          if (i === 1) return Promise.reject(new Error("part 2 refused"));
          return new Promise((_, reject) =>
            signal.addEventListener("abort", () => {
              aborted.push(i);
              reject(new Error("aborted"));
            })
          );
        },
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
