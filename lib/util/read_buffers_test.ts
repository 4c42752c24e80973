import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";
import { BufferPool } from "./buffer_pool.ts";
import {
  inReadBuffers,
  keepReadBuffers,
  READ_BUFFER_BYTES,
  readBuffer,
  recycleReadBuffer,
} from "./read_buffers.ts";

Deno.test("a recycled read buffer is reused; foreign buffers and double returns are not taken", () => {
  const first = readBuffer();
  assert.equal(first.length, READ_BUFFER_BYTES);
  recycleReadBuffer(first.subarray(100, 200)); // a view gives back its whole buffer
  recycleReadBuffer(first); // a second return of the same buffer is ignored
  const again = readBuffer();
  assert.equal(again.buffer, first.buffer);
  assert.notEqual(readBuffer().buffer, first.buffer, "returned once, handed out once");
  const foreign = new Uint8Array(READ_BUFFER_BYTES);
  recycleReadBuffer(foreign);
  assert.notEqual(readBuffer().buffer, foreign.buffer);
});

Deno.test("read buffers of another size come from their own pool and go back to it", () => {
  const small = readBuffer(128 << 10);
  assert.equal(small.length, 128 << 10);
  recycleReadBuffer(small.subarray(0, 10));
  assert.equal(readBuffer(128 << 10).buffer, small.buffer);
  const big = readBuffer();
  recycleReadBuffer(big);
  assert.notEqual(readBuffer(128 << 10).buffer, big.buffer, "a 1 MiB buffer is not handed out as 128 KiB");
});

Deno.test("keepReadBuffers keeps more spares until disposed, then lets the extra ones go", () => {
  const size = 64 << 10;
  const take20 = () => Array.from({ length: 20 }, () => readBuffer(size));
  let held: Uint8Array[];
  {
    using _ = keepReadBuffers(20, size);
    held = take20();
    for (const b of held) recycleReadBuffer(b);
    const again = new Set(take20().map((b) => b.buffer));
    assert.equal(held.filter((b) => again.has(b.buffer)).length, 20, "all 20 reused");
    for (const b of held) recycleReadBuffer(b);
  }
  const after = new Set(take20().map((b) => b.buffer));
  assert.equal(held.filter((b) => after.has(b.buffer)).length, 8, "back to the usual 8 spares");
  // The twelve let go were freed on the spot, not left for a full GC.
  assert.equal(held.filter((b) => (b.buffer as ArrayBuffer).detached).length, 12);
});

Deno.test("a buffer given back to a full pool is freed at once", () => {
  const size = 48 << 10;
  const held = Array.from({ length: 9 }, () => readBuffer(size));
  for (const b of held) recycleReadBuffer(b);
  assert.deepEqual(held.map((b) => (b.buffer as ArrayBuffer).detached), [...Array(8).fill(false), true]);
  assert.equal(held[8]!.length, 0, "its views read as empty");
});

Deno.test("inReadBuffers re-reads a fetch body into full, recyclable read buffers", async () => {
  const body = new Uint8Array(2.5 * READ_BUFFER_BYTES);
  for (let i = 0; i < body.length; i += 4096) body[i] = i / 4096;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
  try {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const chunks: Uint8Array[] = [];
    for await (const chunk of inReadBuffers(response.body!)) chunks.push(chunk);
    assert.deepEqual(chunks.map((c) => c.length), [
      READ_BUFFER_BYTES,
      READ_BUFFER_BYTES,
      READ_BUFFER_BYTES / 2,
    ]);
    assert.deepEqual(concatBytes(chunks), body);
    // Each chunk is a read buffer: given back, it is handed out again.
    const last = chunks.at(-1)!;
    recycleReadBuffer(last);
    assert.equal(readBuffer().buffer, last.buffer);
  } finally {
    await server.shutdown();
  }
  // A small body, or a stream that is not a byte stream, passes through untouched.
  const small = new Response(new Uint8Array(1000)).body!;
  assert.equal(inReadBuffers(small, 1000), small);
  const plain = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  assert.equal(inReadBuffers(plain), plain);
});

Deno.test("inReadBuffers cancelled mid-read gives no detached buffer back to the pool", async () => {
  // A body that never answers: the read into a pooled buffer is pending (the buffer transferred into it)
  // when the reader cancels. Given back, that detached buffer made the pool's next take() throw.
  const body = new ReadableStream({ type: "bytes", pull: () => new Promise<void>(() => {}) });
  const reader = inReadBuffers(body, 5 << 20).getReader();
  const pending = reader.read();
  await new Promise((r) => setTimeout(r, 50));
  await reader.cancel("stop");
  assert.equal((await pending).done, true);
  for (let i = 0; i < 3; i++) assert.equal(readBuffer().length, READ_BUFFER_BYTES);
  // And a detached buffer is never taken back, whoever gives it.
  const pool = new BufferPool(8, 4);
  const buffer = pool.take();
  (buffer.buffer as ArrayBuffer).transfer();
  pool.give(buffer);
  assert.equal(pool.take().length, 8);
});
