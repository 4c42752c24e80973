/**
 * LZ4 frame format (spec §3.3 flags 0, pitfall 18). The writer emits exactly pierrec/lz4's shape for
 * ltx v0.5.0/v0.5.1 pages: FLG 0x64, BD 0x40 (64 KiB blocks), content checksum, end mark. The reader
 * accepts any valid frame. The small step functions are shared with the streaming LTX decoder.
 */

import { concatBytes } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { compressBlockBound, compressBlockInto, decompressBlockInto } from "./lz4_block.ts";
import { Xxh32, xxh32 } from "./xxh32.ts";

export const LZ4_FRAME_MAGIC = 0x184d2204;
/** Magic, FLG and BD: enough to know the full descriptor length. */
export const LZ4_FRAME_PREFIX_SIZE = 6;
const BLOCK_UNCOMPRESSED_BIT = 0x80000000;
const WRITE_BLOCK_SIZE = 64 * 1024;
const WRITE_FLG = 0x64;
const WRITE_BD = 0x40;

/** What a frame descriptor says about the blocks that follow. */
export interface Lz4FrameInfo {
  /** Bytes of magic + descriptor, header checksum included. */
  headerSize: number;
  maxBlockSize: number;
  hasBlockChecksum: boolean;
  hasContentChecksum: boolean;
  /** Declared content size, or -1 when absent. */
  contentSize: number;
}

function corrupt(detail: string): CorruptionError {
  return new CorruptionError(`Cannot decompress LZ4 frame: ${detail}`);
}

/** Reads a little-endian u32 (LZ4 frames are little-endian throughout). */
export function readU32Le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function writeU32Le(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}

/** Total header length implied by the first 6 bytes (magic, FLG, BD); validates them. */
export function frameHeaderSize(prefix: Uint8Array): number {
  if (readU32Le(prefix, 0) !== LZ4_FRAME_MAGIC) throw corrupt("bad magic number");
  const flg = prefix[4]!;
  if ((flg >>> 6) !== 1) throw corrupt(`unsupported version ${flg >>> 6}`);
  if (flg & 0x02) throw corrupt("reserved FLG bit is set");
  return LZ4_FRAME_PREFIX_SIZE + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
}

/** Parses and checks a complete frame header of `frameHeaderSize(header)` bytes. */
export function parseFrameHeader(header: Uint8Array): Lz4FrameInfo {
  const headerSize = frameHeaderSize(header);
  const flg = header[4]!;
  const bd = header[5]!;
  const sizeIndex = (bd >>> 4) & 7;
  if ((bd & 0x8f) !== 0 || sizeIndex < 4) throw corrupt(`invalid BD byte 0x${bd.toString(16)}`);
  const expected = (xxh32(header.subarray(4, headerSize - 1)) >>> 8) & 0xff;
  if (header[headerSize - 1] !== expected) throw corrupt("header checksum mismatch");
  let contentSize = -1;
  if (flg & 0x08) {
    const high = readU32Le(header, 10);
    if (high > 0x1fffff) throw corrupt("declared content size is too large");
    contentSize = high * 0x100000000 + readU32Le(header, 6);
  }
  return {
    headerSize,
    maxBlockSize: 1 << (8 + 2 * sizeIndex),
    hasBlockChecksum: (flg & 0x10) !== 0,
    hasContentChecksum: (flg & 0x04) !== 0,
    contentSize,
  };
}

/** Splits a block size word into payload length and stored flag; 0 means the end mark. */
export function blockSizeWord(word: number, info: Lz4FrameInfo): { size: number; isStored: boolean } {
  const size = word & 0x7fffffff;
  if (size > info.maxBlockSize) {
    throw corrupt(`block of ${size} bytes exceeds the ${info.maxBlockSize}-byte maximum`);
  }
  return { size, isStored: (word & BLOCK_UNCOMPRESSED_BIT) !== 0 };
}

/** Decodes one block payload into `dst` at `at`; returns the bytes written. */
export function decodeFrameBlock(
  payload: Uint8Array,
  isStored: boolean,
  dst: Uint8Array,
  at: number,
  info: Lz4FrameInfo,
): number {
  const room = dst.subarray(at, Math.min(dst.length, at + info.maxBlockSize));
  if (isStored) {
    if (payload.length > room.length) throw corrupt("output is larger than expected");
    room.set(payload);
    return payload.length;
  }
  return decompressBlockInto(payload, room);
}

/** Checks a block checksum word against the block payload. */
export function checkBlockChecksum(payload: Uint8Array, word: number): void {
  if (xxh32(payload) !== word) throw corrupt("block checksum mismatch");
}

/** Checks the content checksum word against the decompressed content. */
export function checkContentChecksum(content: Uint8Array, word: number): void {
  if (xxh32(content) !== word) throw corrupt("content checksum mismatch");
}

/** Compresses `src` as one LZ4 frame shaped exactly like pierrec/lz4 (Block64Kb, Fast, checksum). */
export function compressFrame(src: Uint8Array): Uint8Array {
  const blockCount = Math.ceil(src.length / WRITE_BLOCK_SIZE);
  const out = new Uint8Array(7 + blockCount * (4 + WRITE_BLOCK_SIZE) + 8);
  writeU32Le(out, 0, LZ4_FRAME_MAGIC);
  out[4] = WRITE_FLG;
  out[5] = WRITE_BD;
  out[6] = (xxh32(out.subarray(4, 6)) >>> 8) & 0xff;
  let at = 7;
  const scratch = new Uint8Array(compressBlockBound(Math.min(src.length, WRITE_BLOCK_SIZE)));
  for (let start = 0; start < src.length; start += WRITE_BLOCK_SIZE) {
    const block = src.subarray(start, Math.min(src.length, start + WRITE_BLOCK_SIZE));
    const n = compressBlockInto(block, scratch);
    // pierrec gives the compressor a buffer of len(src) bytes, so anything not smaller is stored.
    if (n < block.length) {
      writeU32Le(out, at, n);
      out.set(scratch.subarray(0, n), at + 4);
      at += 4 + n;
    } else {
      writeU32Le(out, at, (block.length | BLOCK_UNCOMPRESSED_BIT) >>> 0);
      out.set(block, at + 4);
      at += 4 + block.length;
    }
  }
  writeU32Le(out, at, 0);
  writeU32Le(out, at + 4, xxh32(src));
  return out.slice(0, at + 8);
}

/** Decompresses one complete LZ4 frame; trailing bytes after it are an error. */
export function decompressFrame(src: Uint8Array): Uint8Array {
  if (src.length < LZ4_FRAME_PREFIX_SIZE) throw corrupt("truncated header");
  const headerSize = frameHeaderSize(src);
  if (src.length < headerSize) throw corrupt("truncated header");
  const info = parseFrameHeader(src.subarray(0, headerSize));
  const chunks: Uint8Array[] = [];
  const content = new Xxh32();
  let total = 0;
  let at = headerSize;
  const scratch = new Uint8Array(info.maxBlockSize);
  for (;;) {
    if (at + 4 > src.length) throw corrupt("truncated block size");
    const word = readU32Le(src, at);
    at += 4;
    if (word === 0) break;
    const { size, isStored } = blockSizeWord(word, info);
    if (at + size > src.length) throw corrupt("truncated block");
    const payload = src.subarray(at, at + size);
    at += size;
    if (info.hasBlockChecksum) {
      if (at + 4 > src.length) throw corrupt("truncated block checksum");
      checkBlockChecksum(payload, readU32Le(src, at));
      at += 4;
    }
    const n = decodeFrameBlock(payload, isStored, scratch, 0, info);
    const chunk = scratch.slice(0, n);
    if (info.hasContentChecksum) content.update(chunk);
    chunks.push(chunk);
    total += n;
  }
  if (info.hasContentChecksum) {
    if (at + 4 > src.length) throw corrupt("truncated content checksum");
    if (content.digest() !== readU32Le(src, at)) throw corrupt("content checksum mismatch");
    at += 4;
  }
  if (at !== src.length) throw corrupt(`${src.length - at} unexpected bytes after the frame`);
  if (info.contentSize >= 0 && info.contentSize !== total) throw corrupt("content size mismatch");
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}
