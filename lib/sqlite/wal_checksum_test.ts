import assert from "node:assert/strict";
import { walChecksum, walChecksumWords } from "./wal_checksum.ts";

function hexBytes(hex: string): Uint8Array {
  const clean = hex.replaceAll(" ", "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) => parseInt(clean.slice(2 * i, 2 * i + 2), 16));
}

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

Deno.test("walChecksum() matches Litestream's big-endian header vector", () => {
  const header = hexBytes("377f0683 00000001" + "00".repeat(16));
  assert.deepEqual(walChecksum(header, true, 0, 0), [0x157b2092, 0xbbf8341d]);
});

Deno.test("walChecksum() matches Litestream's little-endian vector in one pass and incrementally", () => {
  const data = hexBytes("377f0682 002de218 00001000 00000000 52382eac 857b1a4e");
  assert.deepEqual(walChecksum(data, false, 0, 0), [0x81153b65, 0x87178e8f]);
  const [s0, s1] = walChecksum(data.subarray(0, 8), false, 0, 0);
  const [t0, t1] = walChecksum(data.subarray(8, 16), false, s0, s1);
  assert.deepEqual(walChecksum(data.subarray(16), false, t0, t1), [0x81153b65, 0x87178e8f]);
});

Deno.test("walChecksum() reads words in the byte order asked for", () => {
  const data = hexBytes("00000001 00000002");
  assert.deepEqual(walChecksum(data, true, 0, 0), [1, 3]);
  assert.deepEqual(walChecksum(data, false, 0, 0), [0x01000000, 0x03000000]);
});

Deno.test("walChecksum() wraps sums modulo 2^32", () => {
  const data = hexBytes("ffffffff ffffffff");
  assert.deepEqual(walChecksum(data, true, 0xffffffff, 0xffffffff), [0xfffffffd, 0xfffffffb]);
});

Deno.test("walChecksum() rejects a length that is not a multiple of 8", () => {
  assert.throws(() => walChecksum(new Uint8Array(12), false, 0, 0), RangeError);
});

Deno.test("walChecksumWords() agrees with walChecksum() in both byte orders", () => {
  const bytes = randomBytes(4096 + 24, 7);
  const words = new Int32Array(bytes.buffer);
  for (const bigEndian of [false, true]) {
    const state = Uint32Array.of(0x12345678, 0x9abcdef0);
    walChecksumWords(words, 0, 2, bigEndian, state);
    walChecksumWords(words, 6, words.length, bigEndian, state);
    const head = walChecksum(bytes.subarray(0, 8), bigEndian, 0x12345678, 0x9abcdef0);
    assert.deepEqual([...state], walChecksum(bytes.subarray(24), bigEndian, ...head));
  }
});
