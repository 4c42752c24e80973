import assert from "node:assert/strict";
import { READ_BUFFER_BYTES, readBuffer, recycleReadBuffer } from "./read_buffers.ts";

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
