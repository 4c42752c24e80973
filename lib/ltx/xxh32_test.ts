import assert from "node:assert/strict";
import { randomBytes } from "./_testing.ts";
import { Xxh32, xxh32 } from "./xxh32.ts";

Deno.test("xxh32() matches the reference vectors", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(xxh32(new Uint8Array(0)), 0x02cc5d05);
  assert.equal(xxh32(text("a")), 0x550d7456);
  assert.equal(xxh32(text("abc")), 0x32d153ff);
  assert.equal(xxh32(text("Nobody inspects the spammish repetition")), 0xe2293b2f);
  assert.equal(xxh32(new Uint8Array(0), 1), 0x0b2cb792);
  // LZ4 frame descriptor checksum of FLG 0x64, BD 0x40: (h >> 8) & 0xff must be 0xa7.
  assert.equal((xxh32(Uint8Array.of(0x64, 0x40)) >>> 8) & 0xff, 0xa7);
});

Deno.test("Xxh32 gives the same value however the input is split", () => {
  const data = randomBytes(1000);
  const whole = xxh32(data);
  for (const step of [1, 5, 15, 16, 17, 333]) {
    const hasher = new Xxh32();
    for (let at = 0; at < data.length; at += step) hasher.update(data.subarray(at, at + step));
    assert.equal(hasher.digest(), whole, `step ${step}`);
  }
});
