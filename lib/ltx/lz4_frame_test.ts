import assert from "node:assert/strict";
import { CorruptionError } from "../util/errors.ts";
import { fixture, hex, patternPage, randomBytes, textBytes } from "./_testing.ts";
import { compressBlock } from "./lz4_block.ts";
import { compressFrame, decompressFrame } from "./lz4_frame.ts";
import { xxh32 } from "./xxh32.ts";

Deno.test("compressFrame() writes pierrec's exact frame shape", () => {
  const page = patternPage(512, 0x40);
  const frame = compressFrame(page);
  assert.deepEqual(frame.subarray(0, 7), hex("04224d18 64 40 a7"));
  const block = compressBlock(page);
  assert.deepEqual(frame.subarray(7, 11), Uint8Array.of(block.length, 0, 0, 0));
  assert.deepEqual(frame.subarray(11, 11 + block.length), block);
  const tail = new DataView(frame.buffer, frame.byteOffset + 11 + block.length, 8);
  assert.equal(tail.getUint32(0, true), 0);
  assert.equal(tail.getUint32(4, true), xxh32(page));
  assert.equal(frame.length, 11 + block.length + 8);
});

Deno.test("compressFrame() matches the v0.5.1 fixture page frame", () => {
  const file = fixture("v051/l0-0000000000000002-0000000000000002.ltx");
  const frame = compressFrame(patternPage(512, 0x40));
  assert.deepEqual(file.subarray(106, 106 + frame.length), frame);
});

Deno.test("compressFrame() stores incompressible blocks uncompressed", () => {
  const page = randomBytes(4096);
  const frame = compressFrame(page);
  assert.deepEqual(frame.subarray(7, 11), Uint8Array.of(0x00, 0x10, 0x00, 0x80));
  assert.deepEqual(frame.subarray(11, 11 + 4096), page);
  assert.deepEqual(decompressFrame(frame), page);
});

Deno.test("decompressFrame() round trips inputs of many sizes, including several blocks", () => {
  for (const size of [0, 1, 13, 512, 4096, 65535, 65536, 65537, 140000]) {
    for (const src of [textBytes(size), randomBytes(size), new Uint8Array(size)]) {
      assert.deepEqual(decompressFrame(compressFrame(src)), src, `size ${size}`);
    }
  }
});

/** A frame with block checksums and a content size, as other LZ4 writers may produce. */
function frameWithOptions(content: Uint8Array): Uint8Array {
  const block = compressBlock(content);
  const out = new Uint8Array(4 + 2 + 8 + 1 + 4 + block.length + 4 + 4 + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x184d2204, true);
  out[4] = 0x40 | 0x20 | 0x10 | 0x08 | 0x04;
  out[5] = 0x70;
  view.setUint32(6, content.length, true);
  out[14] = (xxh32(out.subarray(4, 14)) >>> 8) & 0xff;
  let at = 15;
  view.setUint32(at, block.length, true);
  out.set(block, at + 4);
  at += 4 + block.length;
  view.setUint32(at, xxh32(block), true);
  view.setUint32(at + 4, 0, true);
  view.setUint32(at + 8, xxh32(content), true);
  return out;
}

Deno.test("decompressFrame() accepts block checksums and content sizes", () => {
  const content = textBytes(3000);
  assert.deepEqual(decompressFrame(frameWithOptions(content)), content);
});

Deno.test("decompressFrame() rejects damaged frames with CorruptionError", () => {
  const good = compressFrame(textBytes(1000));
  const damage = (at: number, xor = 1) => {
    const copy = good.slice();
    copy[at]! ^= xor;
    return copy;
  };
  const cases: [string, Uint8Array][] = [
    ["bad magic", damage(0)],
    ["bad version", damage(4, 0x80)],
    ["bad header checksum", damage(6)],
    ["bad content checksum", damage(good.length - 1)],
    ["truncated", good.subarray(0, good.length - 1)],
    ["trailing bytes", Uint8Array.of(...good, 0)],
    [
      "bad block checksum",
      (() => {
        const f = frameWithOptions(textBytes(100));
        f[f.length - 9]! ^= 1;
        return f;
      })(),
    ],
  ];
  for (const [name, frame] of cases) assert.throws(() => decompressFrame(frame), CorruptionError, name);
});
