/**
 * Loader and thin wrappers for the WebAssembly kernels of `_kernels.wat` (LZ4 block decompression and
 * compression, CRC-64/ISO), measured faster than the JS versions (see scripts/bench/lz4_bench.ts).
 * Private to lib/ltx; everything here is synchronous, so a caller owns the scratch regions until it
 * returns.
 */

import { CRC_SLICES, CRC_TABLE_HI, CRC_TABLE_LO } from "./_crc_tables.ts";
import { KERNELS_WASM_BASE64 } from "./_kernels_wasm.ts";

const SRC = 32768;
/** Largest compressed input the kernel buffer holds: the LZ4 bound of a 64 KiB page, rounded up. */
export const KERNEL_SRC_CAPACITY = 65824;
const DST = SRC + KERNEL_SRC_CAPACITY;
/** Largest decompressed output the kernel buffer holds. */
export const KERNEL_DST_CAPACITY = 65536;
const COMPRESS_SRC = 524288;
/** Largest input the compression kernel takes (its output region holds the LZ4 bound of this). */
export const KERNEL_COMPRESS_CAPACITY = 65536;
const COMPRESS_DST = COMPRESS_SRC + KERNEL_COMPRESS_CAPACITY;

interface KernelExports {
  memory: WebAssembly.Memory;
  crcHi: WebAssembly.Global;
  decompress(src: number, srcLength: number, dst: number, dstCapacity: number): number;
  crc(p: number, n: number, lo: number, hi: number): number;
  compress(src: number, srcLength: number, dst: number): number;
  tableNext: WebAssembly.Global;
}

function instantiate(): KernelExports {
  const bytes = Uint8Array.from(atob(KERNELS_WASM_BASE64), (c) => c.charCodeAt(0));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const exports = instance.exports as unknown as KernelExports;
  const view = new DataView(exports.memory.buffer);
  for (let i = 0; i < 256 * CRC_SLICES; i++) {
    view.setUint32(i * 8, CRC_TABLE_LO[i]!, true);
    view.setUint32(i * 8 + 4, CRC_TABLE_HI[i]!, true);
  }
  return exports;
}

const kernels = instantiate();
const memory = new Uint8Array(kernels.memory.buffer);

/** The kernel memory, to recognize views of kernel output (they need no copy). */
export const kernelBuffer: ArrayBufferLike = kernels.memory.buffer;

/**
 * Decompresses an LZ4 block into the kernel's output region.
 * @returns the decompressed length, or -1 if the block is malformed or larger than `capacity`.
 */
export function kernelDecompress(block: Uint8Array, capacity: number): number {
  memory.set(block, SRC);
  return kernels.decompress(SRC, block.length, DST, capacity);
}

/** A view of the first `length` bytes of the output region, valid until the next kernel call. */
export function kernelOutput(length: number): Uint8Array {
  return memory.subarray(DST, DST + length);
}

/** Inverted CRC state as two u32 halves. */
export interface CrcState {
  lo: number;
  hi: number;
}

/** Continues the inverted CRC-64 state over `bytes`, in place. */
export function kernelCrc(state: CrcState, bytes: Uint8Array): void {
  if (bytes.buffer === kernelBuffer) {
    state.lo = kernels.crc(bytes.byteOffset, bytes.length, state.lo, state.hi) >>> 0;
    state.hi = (kernels.crcHi.value as number) >>> 0;
    return;
  }
  for (let at = 0; at < bytes.length; at += KERNEL_SRC_CAPACITY) {
    const part = bytes.subarray(at, at + KERNEL_SRC_CAPACITY);
    memory.set(part, SRC);
    state.lo = kernels.crc(SRC, part.length, state.lo, state.hi) >>> 0;
    state.hi = (kernels.crcHi.value as number) >>> 0;
  }
}

/**
 * Compresses `src` (at most KERNEL_COMPRESS_CAPACITY bytes) into the kernel's compression output
 * region, with exactly the bytes of `compressBlockInto`; returns the compressed length. Input that
 * already lives in kernel memory (a `kernelOutput` view) is read in place.
 */
export function kernelCompress(src: Uint8Array): number {
  if (src.length > KERNEL_COMPRESS_CAPACITY) {
    throw new RangeError(`Cannot compress ${src.length} bytes in the kernel`);
  }
  if (src.buffer === kernelBuffer && src.byteOffset + src.length <= COMPRESS_DST) {
    return kernels.compress(src.byteOffset, src.length, COMPRESS_DST);
  }
  memory.set(src, COMPRESS_SRC);
  return kernels.compress(COMPRESS_SRC, src.length, COMPRESS_DST);
}

/** A view of the first `length` bytes of the compression output, valid until the next kernel call. */
export function kernelCompressedOutput(length: number): Uint8Array {
  return memory.subarray(COMPRESS_DST, COMPRESS_DST + length);
}

/** Moves the compressor's hash-table tag, so tests reach the table reset without compressing 2 GiB. */
export function setKernelCompressTagForTest(next: number): void {
  kernels.tableNext.value = next;
}
