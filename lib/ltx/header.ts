/** LTX v3 header (100 bytes) and trailer (16 bytes): layout, encoding and validation (spec §3.2, §3.7). */

import { CorruptionError } from "../util/errors.ts";
import { CHECKSUM_FLAG } from "./checksum.ts";

export const LTX_HEADER_SIZE = 100;
export const LTX_TRAILER_SIZE = 16;
export const LTX_PAGE_HEADER_SIZE = 6;
/** Header flag: the file carries no database checksums (what Litestream writes). */
export const HEADER_FLAG_NO_CHECKSUM = 2;
/** Page header flag: a 4-byte size and an LZ4 block follow (ltx v0.5.2); without it, an LZ4 frame. */
export const PAGE_FLAG_SIZE = 1;

const MAGIC = [0x4c, 0x54, 0x58, 0x31]; // "LTX1"
const PENDING_BYTE = 0x40000000;
const MAX_U64 = 0xffffffffffffffffn;

/** Decoded LTX header; 64-bit checksums and IDs are bigint, offsets and sizes safe integers. */
export interface LtxHeader {
  flags: number;
  pageSize: number;
  /** Database size in pages after applying the file. */
  commit: number;
  minTxid: bigint;
  maxTxid: bigint;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  preApplyChecksum: bigint;
  walOffset: number;
  walSize: number;
  walSalt1: number;
  walSalt2: number;
  nodeId: bigint;
}

/** Decoded LTX trailer. */
export interface LtxTrailer {
  postApplyChecksum: bigint;
  fileChecksum: bigint;
}

/** Whether `n` is a power of two in 512..65536. */
export function isValidPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
}

/** The page holding SQLite's pending byte, never stored in LTX files: `floor(0x40000000 / ps) + 1`. */
export function lockPgno(pageSize: number): number {
  return Math.floor(PENDING_BYTE / pageSize) + 1;
}

/** Whether the file starts at TXID 1 and so holds every page of the database. */
/**
 * A Litestream-style header (flags NoChecksum, no WAL range, no checksums, node 0) with the fields that
 * vary; `overrides` sets anything else.
 */
export function noChecksumHeader(
  fields: Pick<LtxHeader, "pageSize" | "commit" | "minTxid" | "maxTxid" | "timestamp">,
  overrides: Partial<LtxHeader> = {},
): LtxHeader {
  return {
    flags: HEADER_FLAG_NO_CHECKSUM,
    preApplyChecksum: 0n,
    walOffset: 0,
    walSize: 0,
    walSalt1: 0,
    walSalt2: 0,
    nodeId: 0n,
    ...fields,
    ...overrides,
  };
}

export function isSnapshotHeader(header: LtxHeader): boolean {
  return header.minTxid === 1n;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function isU64(n: bigint): boolean {
  return n >= 0n && n <= MAX_U64;
}

/** The first rule `header` breaks, in ltx's words, or null. */
function headerProblem(h: LtxHeader): string | null {
  if (!isU32(h.flags) || (h.flags & ~HEADER_FLAG_NO_CHECKSUM) !== 0) {
    return `invalid flags: 0x${(h.flags >>> 0).toString(16).padStart(8, "0")}`;
  }
  if (!isValidPageSize(h.pageSize)) return `invalid page size: ${h.pageSize}`;
  if (!isU32(h.commit)) return `invalid commit: ${h.commit}`;
  if (!isU64(h.minTxid) || !isU64(h.maxTxid) || !isU64(h.nodeId)) return "64-bit field out of range";
  if (h.minTxid === 0n) return "minimum transaction id required";
  if (h.maxTxid === 0n) return "maximum transaction id required";
  if (h.minTxid > h.maxTxid) return `transaction ids out of order: (${h.minTxid},${h.maxTxid})`;
  if (!Number.isSafeInteger(h.timestamp)) return `invalid timestamp: ${h.timestamp}`;
  if (!Number.isSafeInteger(h.walOffset) || h.walOffset < 0) {
    return `wal offset cannot be negative: ${h.walOffset}`;
  }
  if (!Number.isSafeInteger(h.walSize) || h.walSize < 0) return `wal size cannot be negative: ${h.walSize}`;
  if (!isU32(h.walSalt1) || !isU32(h.walSalt2)) return "invalid wal salt";
  if ((h.walSalt1 !== 0 || h.walSalt2 !== 0) && h.walOffset === 0) {
    return "wal offset required if salt exists";
  }
  if (h.walOffset === 0 && h.walSize !== 0) return "wal offset required if wal size exists";
  if (!isU64(h.preApplyChecksum)) return "invalid pre-apply checksum format";
  if (isSnapshotHeader(h)) {
    if (h.preApplyChecksum !== 0n) return "pre-apply checksum must be zero on snapshots";
  } else if (h.flags & HEADER_FLAG_NO_CHECKSUM) {
    if (h.preApplyChecksum !== 0n) return "pre-apply checksum not allowed";
  } else {
    if (h.preApplyChecksum === 0n) return "pre-apply checksum required on non-snapshot files";
    if ((h.preApplyChecksum & CHECKSUM_FLAG) === 0n) return "invalid pre-apply checksum format";
  }
  return null;
}

/**
 * Checks the header rules of ltx `Header.Validate`.
 * @throws CorruptionError naming the first broken rule.
 */
export function validateHeader(header: LtxHeader): void {
  const problem = headerProblem(header);
  if (problem !== null) throw new CorruptionError(`Invalid LTX header: ${problem}`);
}

/** The first trailer rule (ltx `Trailer.Validate` plus the Commit 0 rule) that is broken, or null. */
export function trailerProblem(header: LtxHeader, trailer: LtxTrailer): string | null {
  const post = trailer.postApplyChecksum;
  if (header.flags & HEADER_FLAG_NO_CHECKSUM) {
    if (post !== 0n) return "post-apply checksum not allowed";
  } else if (post === 0n) {
    return "post-apply checksum required";
  } else if ((post & CHECKSUM_FLAG) === 0n) {
    return "invalid post-apply checksum format";
  }
  if (trailer.fileChecksum === 0n) return "file checksum required";
  if ((trailer.fileChecksum & CHECKSUM_FLAG) === 0n) return "invalid file checksum format";
  if (header.commit === 0 && post !== CHECKSUM_FLAG) {
    return "post-apply checksum must be empty for zero-length database";
  }
  return null;
}

/** Serializes a header to its 100 bytes; validates it first. */
export function encodeHeader(header: LtxHeader): Uint8Array {
  validateHeader(header);
  const bytes = new Uint8Array(LTX_HEADER_SIZE);
  bytes.set(MAGIC, 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(4, header.flags);
  view.setUint32(8, header.pageSize);
  view.setUint32(12, header.commit);
  view.setBigUint64(16, header.minTxid);
  view.setBigUint64(24, header.maxTxid);
  view.setBigInt64(32, BigInt(header.timestamp));
  view.setBigUint64(40, header.preApplyChecksum);
  view.setBigInt64(48, BigInt(header.walOffset));
  view.setBigInt64(56, BigInt(header.walSize));
  view.setUint32(64, header.walSalt1);
  view.setUint32(68, header.walSalt2);
  view.setBigUint64(72, header.nodeId);
  return bytes;
}

function int64Field(view: DataView, offset: number): number {
  const value = view.getBigInt64(offset);
  // Out-of-range values become NaN so validation reports the field.
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : Number.NaN;
}

/**
 * Parses and validates the first 100 bytes of an LTX file.
 * @throws CorruptionError naming `name` for a short buffer, bad magic or broken header rule.
 */
export function decodeHeader(bytes: Uint8Array, name = "LTX file"): LtxHeader {
  if (bytes.length < LTX_HEADER_SIZE) {
    throw new CorruptionError(`Invalid LTX header in "${name}": only ${bytes.length} bytes`);
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new CorruptionError(`Invalid LTX header in "${name}": bad magic number, not an LTX file`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, LTX_HEADER_SIZE);
  const header: LtxHeader = {
    flags: view.getUint32(4),
    pageSize: view.getUint32(8),
    commit: view.getUint32(12),
    minTxid: view.getBigUint64(16),
    maxTxid: view.getBigUint64(24),
    timestamp: int64Field(view, 32),
    preApplyChecksum: view.getBigUint64(40),
    walOffset: int64Field(view, 48),
    walSize: int64Field(view, 56),
    walSalt1: view.getUint32(64),
    walSalt2: view.getUint32(68),
    nodeId: view.getBigUint64(72),
  };
  const problem = headerProblem(header);
  if (problem !== null) throw new CorruptionError(`Invalid LTX header in "${name}": ${problem}`);
  return header;
}

/** Serializes a trailer to its 16 bytes. */
export function encodeTrailer(trailer: LtxTrailer): Uint8Array {
  const bytes = new Uint8Array(LTX_TRAILER_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, trailer.postApplyChecksum);
  view.setBigUint64(8, trailer.fileChecksum);
  return bytes;
}

/** Parses the 16 trailer bytes (no validation). */
export function decodeTrailer(bytes: Uint8Array): LtxTrailer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, LTX_TRAILER_SIZE);
  return { postApplyChecksum: view.getBigUint64(0), fileChecksum: view.getBigUint64(8) };
}
