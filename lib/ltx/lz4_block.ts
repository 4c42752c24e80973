/**
 * LZ4 block format (spec §3.3, pitfalls 2 and 19). The compressor reproduces pierrec/lz4 v4's fast
 * `CompressBlock` byte for byte (same 6-byte hash, 64 KiB window and skip heuristic), so re-encoding
 * pages written by ltx gives the same bytes. The JS compressor is the reference; the WebAssembly kernel
 * (a port of it, 2–3× faster on database pages) takes every input up to 64 KiB. The decompressors
 * accept any valid block.
 */

import { CorruptionError } from "../util/errors.ts";
import {
  KERNEL_COMPRESS_CAPACITY,
  KERNEL_DST_CAPACITY,
  KERNEL_SRC_CAPACITY,
  kernelCompress,
  kernelCompressedOutput,
  kernelDecompress,
  kernelOutput,
} from "./_kernels.ts";

const MIN_MATCH = 4;
const WINDOW_SIZE = 0x10000;
const HASH_SIZE = 0x10000;
/** The last match cannot start within the last 14 bytes (12 + the 5 literal bytes rule, as pierrec). */
const MF_LIMIT = 10 + MIN_MATCH;
const SKIP_LOG = 7;

// 227718039650203 (pierrec's prime6bytes), split for 32-bit arithmetic.
const PRIME_LO = 0xbcdcbf9b;
const PRIME_HI = 0xcf1b;
const PRIME_B0 = PRIME_LO & 0xffff;
const PRIME_B1 = PRIME_LO >>> 16;

/** The largest block `compressBlock` can return for `size` input bytes (`n + n/255 + 16`). */
export function compressBlockBound(size: number): number {
  return size + Math.floor(size / 255) + 16;
}

// Hash table of absolute positions tagged with a per-call base, so no reset is needed between
// calls: an entry below `tableBase` belongs to an earlier call and reads as pierrec's unused slot.
const table = new Int32Array(HASH_SIZE);
let tableBase = 1;
let nextTableBase = 1;

/**
 * pierrec v4 `blockHash`: bits 48..63 of `(x << 16) * prime` mod 2^64 for the six bytes
 * x = lo32 | hi16 << 32, which are bits 32..47 of `x * prime`. Exact, with 16-bit limbs, no BigInt.
 */
function hash6(lo: number, hi16: number): number {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const mid = (Math.imul(a1, PRIME_B0) + Math.imul(a0, PRIME_B1) + ((a0 * PRIME_B0) >>> 16)) >>> 16;
  return (Math.imul(a1, PRIME_B1) + mid + Math.imul(lo, PRIME_HI) + Math.imul(hi16, PRIME_LO)) & 0xffff;
}

function tableGet(h: number, si: number): number {
  const stored = table[h]!;
  let i = stored >= tableBase ? (stored - tableBase) & 0xffff : 0;
  i += si - (si & 0xffff);
  return i >= si ? i - WINDOW_SIZE : i;
}

function load32(src: Uint8Array, i: number): number {
  return src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24);
}

function trailingZeroBytes(x: number): number {
  return (31 - Math.clz32(x & -x)) >>> 3;
}

function writeLength(dst: Uint8Array, di: number, length: number): number {
  let rest = length - 15;
  while (rest >= 255) {
    dst[di++] = 255;
    rest -= 255;
  }
  dst[di++] = rest;
  return di;
}

function copyBytes(dst: Uint8Array, di: number, src: Uint8Array, si: number, length: number): void {
  if (length > 32) dst.set(src.subarray(si, si + length), di);
  else for (let k = 0; k < length; k++) dst[di + k] = src[si + k]!;
}

/**
 * Compresses `src` into `dst` (at least `compressBlockBound(src.length)` bytes) and returns the
 * compressed length. Always emits a block, even when it is larger than `src` (as ltx v0.5.2 does).
 */
export function compressBlockInto(src: Uint8Array, dst: Uint8Array): number {
  if (src.length > KERNEL_COMPRESS_CAPACITY) return compressBlockJs(src, dst);
  checkBound(src, dst);
  const n = kernelCompress(src);
  dst.set(kernelCompressedOutput(n));
  return n;
}

function checkBound(src: Uint8Array, dst: Uint8Array): void {
  if (dst.length < compressBlockBound(src.length)) {
    throw new RangeError(`Cannot compress ${src.length} bytes: destination holds only ${dst.length} bytes`);
  }
}

/** The JS compressor: the reference the kernel is tested against, and the path for inputs over 64 KiB. */
export function compressBlockJs(src: Uint8Array, dst: Uint8Array): number {
  checkBound(src, dst);
  if (nextTableBase > 0x7fffffff - src.length - 1) {
    table.fill(0);
    nextTableBase = 1;
  }
  const base = nextTableBase;
  tableBase = base;
  nextTableBase += src.length + 1;

  let si = 0;
  let di = 0;
  let anchor = 0;
  const sn = src.length - MF_LIMIT;
  while (si < sn) {
    const w0 = load32(src, si);
    const w1 = load32(src, si + 4);
    const h = hash6(w0, w1 & 0xffff);
    const h2 = hash6((w0 >>> 8) | (w1 << 24), (w1 >>> 8) & 0xffff);
    const ref = tableGet(h, si);
    const ref2 = tableGet(h2, si + 1);
    table[h] = base + si;
    table[h2] = base + si + 1;

    let offset = si - ref;
    if (offset <= 0 || offset >= WINDOW_SIZE || w0 !== load32(src, ref)) {
      const h3 = hash6((w0 >>> 16) | (w1 << 16), w1 >>> 16);
      const ref3 = tableGet(h3, si + 2);
      si += 1;
      offset = si - ref2;
      if (offset <= 0 || offset >= WINDOW_SIZE || ((w0 >>> 8) | (w1 << 24)) !== load32(src, ref2)) {
        si += 1;
        offset = si - ref3;
        table[h3] = base + si;
        if (offset <= 0 || offset >= WINDOW_SIZE || ((w0 >>> 16) | (w1 << 16)) !== load32(src, ref3)) {
          si += 2 + ((si - anchor) >> SKIP_LOG);
          continue;
        }
      }
    }

    let literalLength = si - anchor;
    let matchStart = si;
    let back = si - offset - 1;
    while (literalLength > 0 && back >= 0 && src[matchStart - 1] === src[back]) {
      matchStart--;
      back--;
      literalLength--;
    }
    // pierrec extends forward 8 bytes at a time and never past sn, so neither do we.
    si = si + MIN_MATCH;
    while (si + 8 <= sn) {
      const lo = load32(src, si) ^ load32(src, si - offset);
      if (lo !== 0) {
        si += trailingZeroBytes(lo);
        break;
      }
      const hi = load32(src, si + 4) ^ load32(src, si + 4 - offset);
      if (hi !== 0) {
        si += 4 + trailingZeroBytes(hi);
        break;
      }
      si += 8;
    }
    const matchLength = si - matchStart - MIN_MATCH;

    const token = di++;
    dst[token] = (matchLength < 15 ? matchLength : 15) | (literalLength < 15 ? literalLength << 4 : 0xf0);
    if (literalLength >= 15) di = writeLength(dst, di, literalLength);
    copyBytes(dst, di, src, anchor, literalLength);
    di += literalLength;
    dst[di++] = offset & 0xff;
    dst[di++] = offset >>> 8;
    if (matchLength >= 15) di = writeLength(dst, di, matchLength);
    anchor = si;

    if (si >= sn) break;
    table[hash6(load32(src, si - 2), src[si + 2]! | (src[si + 3]! << 8))] = base + si - 2;
  }

  const literalLength = src.length - anchor;
  dst[di++] = literalLength < 15 ? literalLength << 4 : 0xf0;
  if (literalLength >= 15) di = writeLength(dst, di, literalLength);
  copyBytes(dst, di, src, anchor, literalLength);
  return di + literalLength;
}

/** Compresses `src` into a new LZ4 block, exactly as pierrec/lz4 `CompressBlock` would. */
export function compressBlock(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(compressBlockBound(src.length));
  return dst.slice(0, compressBlockInto(src, dst));
}

function corrupt(detail: string): CorruptionError {
  return new CorruptionError(`Cannot decompress LZ4 block: ${detail}`);
}

/**
 * Decompresses one LZ4 block into `dst` and returns the number of bytes written. Blocks that fit the
 * WebAssembly kernel (outputs up to 64 KiB) are decoded there; the JS decoder handles the rest and
 * explains what is wrong with a block the kernel rejects.
 * @throws CorruptionError when the block is malformed or does not fit in `dst`.
 */
export function decompressBlockInto(src: Uint8Array, dst: Uint8Array): number {
  if (dst.length <= KERNEL_DST_CAPACITY && src.length <= KERNEL_SRC_CAPACITY) {
    const n = kernelDecompress(src, dst.length);
    if (n >= 0) {
      dst.set(kernelOutput(n));
      return n;
    }
    decompressBlockJs(src, new Uint8Array(dst.length));
    throw corrupt("malformed block");
  }
  return decompressBlockJs(src, dst);
}

/** The JS decoder; the same checks as the kernel, with precise messages. */
export function decompressBlockJs(src: Uint8Array, dst: Uint8Array): number {
  const srcEnd = src.length;
  const dstEnd = dst.length;
  if (srcEnd === 0) return 0;
  let si = 0;
  let di = 0;
  for (;;) {
    const token = src[si++]!;
    let literalLength = token >>> 4;
    if (literalLength === 15) {
      let b = 255;
      while (b === 255) {
        if (si >= srcEnd) throw corrupt("literal length runs past the end");
        b = src[si++]!;
        literalLength += b;
      }
    }
    if (literalLength > srcEnd - si) throw corrupt("literals run past the end");
    if (literalLength > dstEnd - di) throw corrupt("output is larger than expected");
    if (literalLength > 32) {
      dst.set(src.subarray(si, si + literalLength), di);
      si += literalLength;
      di += literalLength;
    } else {
      for (let k = 0; k < literalLength; k++) dst[di++] = src[si++]!;
    }
    if (si === srcEnd) {
      // As pierrec/lz4: the last sequence is literals only, so its match length must be 0.
      if ((token & 15) !== 0) throw corrupt("last sequence has a match length");
      return di;
    }

    if (si + 2 > srcEnd) throw corrupt("match offset runs past the end");
    const offset = src[si]! | (src[si + 1]! << 8);
    si += 2;
    if (offset === 0 || offset > di) throw corrupt(`match offset ${offset} is out of range`);
    let matchLength = (token & 15) + MIN_MATCH;
    if (matchLength === 15 + MIN_MATCH) {
      let b = 255;
      while (b === 255) {
        if (si >= srcEnd) throw corrupt("match length runs past the end");
        b = src[si++]!;
        matchLength += b;
      }
    }
    if (matchLength > dstEnd - di) throw corrupt("output is larger than expected");
    const end = di + matchLength;
    let from = di - offset;
    if (matchLength <= 32) {
      while (di < end) dst[di++] = dst[from++]!;
    } else {
      // Overlapping copies repeat the last `offset` bytes: copy whole periods, doubling each time.
      let span = offset;
      while (di + span < end) {
        dst.copyWithin(di, from, from + span);
        di += span;
        span += span;
      }
      dst.copyWithin(di, from, from + (end - di));
      di = end;
    }
    if (si >= srcEnd) throw corrupt("block ends with a match instead of literals");
  }
}

/**
 * Decompresses one LZ4 block that must expand to exactly `outputSize` bytes.
 * @throws CorruptionError otherwise.
 */
export function decompressBlock(src: Uint8Array, outputSize: number): Uint8Array {
  const dst = new Uint8Array(outputSize);
  const n = decompressBlockInto(src, dst);
  if (n !== outputSize) throw corrupt(`expected ${outputSize} bytes, got ${n}`);
  return dst;
}
