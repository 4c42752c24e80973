import assert from "node:assert/strict";
import {
  KERNEL_COMPRESS_CAPACITY,
  kernelCompress,
  kernelCompressedOutput,
  kernelDecompress,
  kernelOutput,
  setKernelCompressTagForTest,
} from "./_kernels.ts";
import { randomBytes, textBytes } from "./_testing.ts";
import { compressBlockBound, compressBlockJs, decompressBlock } from "./lz4_block.ts";

function jsBlock(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(compressBlockBound(src.length));
  return dst.subarray(0, compressBlockJs(src, dst));
}

function kernelBlock(src: Uint8Array): Uint8Array {
  return kernelCompressedOutput(kernelCompress(src)).slice();
}

function assertSameBlock(src: Uint8Array, what: string): void {
  const expected = jsBlock(src);
  const actual = kernelBlock(src);
  if (actual.length !== expected.length || actual.some((b, i) => b !== expected[i])) {
    const at = actual.findIndex((b, i) => b !== expected[i]);
    assert.fail(
      `${what}: kernel block differs (lengths ${actual.length}/${expected.length}, first at ${at})`,
    );
  }
}

/** Pages of many shapes: incompressible, highly repetitive, text, and mixtures at every boundary. */
function page(kind: number, size: number, seed: number): Uint8Array {
  const random = () => randomBytes(size, seed);
  switch (kind) {
    case 0:
      return random();
    case 1:
      return new Uint8Array(size);
    case 2:
      return textBytes(size, seed);
    case 3: { // short periods: overlapping matches of every offset 1..16
      const period = 1 + (seed % 16);
      const unit = randomBytes(period, seed);
      return Uint8Array.from({ length: size }, (_, i) => unit[i % period]!);
    }
    case 4: { // half random, half text, in random order
      const out = textBytes(size, seed);
      out.set(randomBytes(size >> 1, seed), seed % 2 ? 0 : size >> 1);
      return out;
    }
    case 5: { // a random half repeated: one long match at offset size/2 (up to 32 KiB)
      const out = random();
      out.copyWithin(size >> 1, 0, size >> 1);
      return out;
    }
    case 6: { // SQLite-like: header, free space of zeros, records at the end
      const out = new Uint8Array(size);
      out[0] = 0x0d;
      const fill = (seed % 90) / 100;
      out.set(textBytes(Math.floor(size * fill), seed), size - Math.floor(size * fill));
      return out;
    }
    case 7: { // random with sparse repeats at long distances, near the 64 KiB window edge
      const out = random();
      for (let k = 0; k < 8; k++) {
        const from = (seed * (k + 1) * 7919) % Math.max(1, size - 64);
        const to = size - 64 - ((seed * (k + 3)) % Math.max(1, size >> 3));
        if (to > from && to + 32 <= size) out.copyWithin(to, from, from + 32);
      }
      return out;
    }
    default: { // text with random single-byte flips
      const out = textBytes(size, seed);
      const bytes = randomBytes(size, seed + 1);
      for (let i = 0; i < size; i += 1 + (bytes[i]! & 63)) out[i] ^= bytes[i]!;
      return out;
    }
  }
}

const KINDS = 9;

Deno.test("the compression kernel writes the JS compressor's bytes for pages of 512 to 65536 bytes", () => {
  const sizes = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
  let count = 0;
  for (const size of sizes) {
    const seeds = size <= 4096 ? 40 : size <= 16384 ? 12 : 4;
    for (let kind = 0; kind < KINDS; kind++) {
      for (let seed = 1; seed <= seeds; seed++) {
        assertSameBlock(page(kind, size, seed), `kind ${kind}, ${size} bytes, seed ${seed}`);
        count++;
      }
    }
  }
  assert.ok(count > 1000);
});

Deno.test("the compression kernel matches the JS compressor on odd sizes and tiny inputs", () => {
  for (let size = 0; size <= 300; size++) {
    assertSameBlock(page(size % KINDS, size, size + 1), `${size} bytes`);
  }
  for (const size of [511, 513, 1000, 4095, 4097, 65535]) {
    for (let kind = 0; kind < KINDS; kind++) {
      assertSameBlock(page(kind, size, 7), `kind ${kind}, ${size} bytes`);
    }
  }
});

Deno.test("the compression kernel's output decompresses to its input, also from kernel memory", () => {
  for (let kind = 0; kind < KINDS; kind++) {
    const src = page(kind, 4096, kind + 11);
    const block = kernelBlock(src);
    assert.deepEqual(decompressBlock(block, src.length), src);
    // Input already in kernel memory (a decoder's output view) is compressed in place.
    const inKernel = kernelOutput(kernelDecompress(block, src.length));
    assert.deepEqual(kernelBlock(inKernel), block);
  }
});

Deno.test("the compression kernel resets its hash table when the tag would overflow", () => {
  const pages = Array.from({ length: KINDS }, (_, kind) => page(kind, 65536, kind + 3));
  setKernelCompressTagForTest(0x7fffffff - 3 * 65537);
  for (let round = 0; round < 2; round++) {
    for (const [kind, src] of pages.entries()) assertSameBlock(src, `round ${round}, kind ${kind}`);
  }
});

Deno.test("the compression kernel refuses inputs over its capacity", () => {
  assert.throws(() => kernelCompress(new Uint8Array(KERNEL_COMPRESS_CAPACITY + 1)), RangeError);
});
