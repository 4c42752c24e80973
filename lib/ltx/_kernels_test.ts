import assert from "node:assert/strict";
import { CorruptionError } from "../util/errors.ts";
import { KERNEL_DST_CAPACITY, kernelDecompress, kernelOutput } from "./_kernels.ts";
import { randomBytes, textBytes } from "./_testing.ts";
import { compressBlock, decompressBlockJs } from "./lz4_block.ts";

function jsOutcome(block: Uint8Array, capacity: number): Uint8Array | "error" {
  const out = new Uint8Array(capacity);
  try {
    return out.subarray(0, decompressBlockJs(block, out));
  } catch (err) {
    assert.ok(err instanceof CorruptionError);
    return "error";
  }
}

function kernelOutcome(block: Uint8Array, capacity: number): Uint8Array | "error" {
  const n = kernelDecompress(block, capacity);
  return n < 0 ? "error" : kernelOutput(n).slice();
}

Deno.test("the decompression kernel agrees with the JS decoder on damaged and random blocks", () => {
  let seed = 99;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const sources = [textBytes(4096), textBytes(700, 3), new Uint8Array(4096), randomBytes(300)];
  for (let round = 0; round < 3000; round++) {
    const src = sources[round % sources.length]!;
    const block = compressBlock(src).slice();
    const flips = 1 + (next() % 3);
    for (let k = 0; k < flips; k++) block[next() % block.length]! ^= 1 << (next() % 8);
    const cut = round % 5 === 0 ? block.subarray(0, next() % (block.length + 1)) : block;
    const capacity = round % 7 === 0 ? src.length - 1 : src.length;
    assert.deepEqual(kernelOutcome(cut, capacity), jsOutcome(cut, capacity), `round ${round}`);
  }
  for (let round = 0; round < 2000; round++) {
    const garbage = randomBytes(1 + (next() % 64), next());
    assert.deepEqual(kernelOutcome(garbage, 256), jsOutcome(garbage, 256), `garbage ${round}`);
  }
});

Deno.test("the decompression kernel handles 64 KiB outputs and every short match period", () => {
  for (let period = 1; period <= 20; period++) {
    const src = Uint8Array.from({ length: KERNEL_DST_CAPACITY }, (_, i) => (i % period) * 37);
    assert.deepEqual(kernelOutcome(compressBlock(src), src.length), src, `period ${period}`);
  }
  const random = randomBytes(KERNEL_DST_CAPACITY);
  assert.deepEqual(kernelOutcome(compressBlock(random), random.length), random);
});
