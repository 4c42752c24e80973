/** The 32-byte WAL header and the 24-byte WAL frame header, see spec §1.3 and §1.4. */

import { readAt, readU32 } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { walChecksum } from "./wal_checksum.ts";

/** Size in bytes of the header at the start of a `-wal` file. */
export const WAL_HEADER_SIZE = 32;
/** Size in bytes of the header in front of each page in a `-wal` file. */
export const WAL_FRAME_HEADER_SIZE = 24;

const MAGIC_LITTLE_ENDIAN = 0x377f0682;
const MAGIC_BIG_ENDIAN = 0x377f0683;
const WAL_FORMAT_VERSION = 3007000;

/** The decoded WAL header; all values are u32. */
export interface WalHeader {
  /** Magic `0x377f0683`: checksum words are read big-endian (otherwise little-endian). */
  bigEndianChecksum: boolean;
  /** Page size in bytes (65536 is stored in full). */
  pageSize: number;
  /** Incremented by SQLite on each WAL restart; Litestream ignores it. */
  checkpointSeq: number;
  salt1: number;
  salt2: number;
  /** Checksum of header bytes 0..23, the seed of the frame checksum chain. */
  checksum1: number;
  checksum2: number;
}

/** The decoded header of one WAL frame; all values are u32. */
export interface WalFrameHeader {
  pgno: number;
  /** Database size in pages after the commit for a transaction's last frame, otherwise 0. */
  commit: number;
  salt1: number;
  salt2: number;
  /** Cumulative checksum over the chain up to and including this frame. */
  checksum1: number;
  checksum2: number;
}

/** Whether `pageSize` is a power of two from 512 to 65536. */
export function isValidPageSize(pageSize: number): boolean {
  return Number.isInteger(pageSize) && pageSize >= 512 && pageSize <= 65536 &&
    (pageSize & (pageSize - 1)) === 0;
}

/**
 * Decodes a WAL header; returns null for an "empty WAL" (fewer than 32 bytes, or a header checksum
 * that does not match, as left by a torn header write), like Litestream's `readHeader`.
 * @throws {CorruptionError} on a bad magic, a version other than 3007000 or an invalid page size
 */
export function decodeWalHeader(bytes: Uint8Array): WalHeader | null {
  if (bytes.length < WAL_HEADER_SIZE) return null;
  const magic = readU32(bytes, 0);
  if (magic !== MAGIC_LITTLE_ENDIAN && magic !== MAGIC_BIG_ENDIAN) {
    throw new CorruptionError(
      `Cannot read WAL header: invalid magic 0x${magic.toString(16).padStart(8, "0")}`,
    );
  }
  const bigEndianChecksum = magic === MAGIC_BIG_ENDIAN;
  const checksum1 = readU32(bytes, 24);
  const checksum2 = readU32(bytes, 28);
  const [s0, s1] = walChecksum(bytes.subarray(0, 24), bigEndianChecksum, 0, 0);
  if (s0 !== checksum1 || s1 !== checksum2) return null;
  const version = readU32(bytes, 4);
  if (version !== WAL_FORMAT_VERSION) {
    throw new CorruptionError(`Cannot read WAL header: unsupported WAL version ${version}`);
  }
  const pageSize = readU32(bytes, 8);
  if (!isValidPageSize(pageSize)) {
    throw new CorruptionError(`Cannot read WAL header: invalid page size ${pageSize}`);
  }
  return {
    bigEndianChecksum,
    pageSize,
    checkpointSeq: readU32(bytes, 12),
    salt1: readU32(bytes, 16),
    salt2: readU32(bytes, 20),
    checksum1,
    checksum2,
  };
}

/**
 * Reads and decodes the header at the start of an open `-wal` file; null when the WAL is empty.
 * @throws {CorruptionError} as `decodeWalHeader`
 */
export async function readWalHeader(file: Deno.FsFile): Promise<WalHeader | null> {
  return decodeWalHeader(await readAt(file, 0, WAL_HEADER_SIZE));
}

/**
 * Decodes the first 24 bytes of `bytes` as a WAL frame header, without any validation.
 * @throws {RangeError} when `bytes` is shorter than 24 bytes
 */
export function decodeFrameHeader(bytes: Uint8Array): WalFrameHeader {
  if (bytes.length < WAL_FRAME_HEADER_SIZE) {
    throw new RangeError(`WAL frame header needs ${WAL_FRAME_HEADER_SIZE} bytes, got ${bytes.length}`);
  }
  return {
    pgno: readU32(bytes, 0),
    commit: readU32(bytes, 4),
    salt1: readU32(bytes, 8),
    salt2: readU32(bytes, 12),
    checksum1: readU32(bytes, 16),
    checksum2: readU32(bytes, 20),
  };
}

/** Reads the frame header at byte `offset` of an open `-wal` file; null when the file ends first. */
export async function readFrameHeaderAt(file: Deno.FsFile, offset: number): Promise<WalFrameHeader | null> {
  const bytes = await readAt(file, offset, WAL_FRAME_HEADER_SIZE);
  return bytes.length < WAL_FRAME_HEADER_SIZE ? null : decodeFrameHeader(bytes);
}

/** Size in bytes of one WAL frame (header and page) for `pageSize`. */
export function walFrameSize(pageSize: number): number {
  return WAL_FRAME_HEADER_SIZE + pageSize;
}
