/** Test helper: writes valid WAL files (header and frames with chained checksums) and temp files. */

import { readU32, writeU32 } from "../util/bytes.ts";
import { walChecksum } from "./wal_checksum.ts";
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE, walFrameSize } from "./wal_header.ts";

export interface FrameSpec {
  pgno: number;
  /** Database size after the commit for a transaction's last frame. @default 0 */
  commit?: number;
  /** Page content. @default samplePage(pageSize, pgno, frame index) */
  data?: Uint8Array;
}

export interface WalSpec {
  pageSize: number;
  /** Use magic 0x377f0683 (big-endian checksum words). @default false */
  bigEndian?: boolean;
  salt1: number;
  salt2: number;
  /** @default 0 */
  checkpointSeq?: number;
  frames: FrameSpec[];
}

/** A recognizable page: byte i is `(seed * 131 + version * 17 + i) & 0xff`. */
export function samplePage(pageSize: number, seed: number, version = 0): Uint8Array {
  const page = new Uint8Array(pageSize);
  for (let i = 0; i < pageSize; i++) page[i] = (seed * 131 + version * 17 + i) & 0xff;
  return page;
}

/** The bytes of a WAL file whose frames are all valid (correct salts and checksum chain). */
export function buildWal(spec: WalSpec): Uint8Array {
  const { pageSize, salt1, salt2 } = spec;
  const bigEndian = spec.bigEndian ?? false;
  const frameSize = walFrameSize(pageSize);
  const out = new Uint8Array(WAL_HEADER_SIZE + spec.frames.length * frameSize);
  writeU32(out, 0, bigEndian ? 0x377f0683 : 0x377f0682);
  writeU32(out, 4, 3007000);
  writeU32(out, 8, pageSize);
  writeU32(out, 12, spec.checkpointSeq ?? 0);
  writeU32(out, 16, salt1);
  writeU32(out, 20, salt2);
  spec.frames.forEach((frame, i) => {
    const at = WAL_HEADER_SIZE + i * frameSize;
    writeU32(out, at, frame.pgno);
    writeU32(out, at + 4, frame.commit ?? 0);
    writeU32(out, at + 8, salt1);
    writeU32(out, at + 12, salt2);
    const data = frame.data ?? samplePage(pageSize, frame.pgno, i);
    if (data.length !== pageSize) throw new RangeError(`frame ${i}: page of ${data.length} bytes`);
    out.set(data, at + WAL_FRAME_HEADER_SIZE);
  });
  return rechecksumWal(out, bigEndian);
}

/**
 * A copy of `wal` with the given checksum byte order: sets the magic and recomputes the header
 * checksum and the chain over the leading frames that carry the header salts and were valid
 * before (up to the first stale, torn or broken frame, which is copied unchanged).
 */
export function rechecksumWal(wal: Uint8Array, bigEndian: boolean): Uint8Array {
  const out = wal.slice();
  const pageSize = readU32(wal, 8);
  const frameSize = walFrameSize(pageSize);
  const wasBigEndian = readU32(wal, 0) === 0x377f0683;
  writeU32(out, 0, bigEndian ? 0x377f0683 : 0x377f0682);
  let [s0, s1] = walChecksum(out.subarray(0, 24), bigEndian, 0, 0);
  writeU32(out, 24, s0);
  writeU32(out, 28, s1);
  let [o0, o1] = walChecksum(wal.subarray(0, 24), wasBigEndian, 0, 0);
  // A header without a valid checksum (as from buildWal) has no old chain to respect.
  const hasOldChain = readU32(wal, 24) === o0 && readU32(wal, 28) === o1;
  for (let at = WAL_HEADER_SIZE; at + frameSize <= wal.length; at += frameSize) {
    if (readU32(wal, at + 8) !== readU32(wal, 16) || readU32(wal, at + 12) !== readU32(wal, 20)) break;
    const head = wal.subarray(at, at + 8);
    const page = wal.subarray(at + WAL_FRAME_HEADER_SIZE, at + frameSize);
    [o0, o1] = walChecksum(page, wasBigEndian, ...walChecksum(head, wasBigEndian, o0, o1));
    if (hasOldChain && (readU32(wal, at + 16) !== o0 || readU32(wal, at + 20) !== o1)) break;
    [s0, s1] = walChecksum(page, bigEndian, ...walChecksum(head, bigEndian, s0, s1));
    writeU32(out, at + 16, s0);
    writeU32(out, at + 20, s1);
  }
  return out;
}

/** `base` with `top` written over its start, like a restarted WAL over an older generation. */
export function overlay(base: Uint8Array, top: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(base.length, top.length));
  out.set(base);
  out.set(top);
  return out;
}

/** Writes `bytes` to a fresh temp file and opens it for reading; close it and remove `path` after. */
export async function openTempWal(
  bytes: Uint8Array,
): Promise<{ file: Deno.FsFile; path: string } & Disposable> {
  const path = await Deno.makeTempFile({ prefix: "walship-wal-" });
  await Deno.writeFile(path, bytes);
  const file = await Deno.open(path, { read: true });
  return {
    file,
    path,
    [Symbol.dispose]() {
      file.close();
      Deno.removeSync(path);
    },
  };
}

/** Deterministic pseudo-random integers below `n` (xorshift32), so a failing seed can be replayed. */
export function seededInts(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}
