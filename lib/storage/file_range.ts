/**
 * Upload parts cut from a local file as byte ranges, streamed from disk instead of copied into part buffers:
 * a 5 MiB S3 part or 4 MiB Azure block in flight then costs a read-ahead chunk, not its whole size (with
 * five in flight for shipping and five for compaction, the buffers were 40-60 MiB of the process). Each
 * attempt opens the range afresh, since a stream that was sent once cannot be sent again.
 */
import { createReadStream, type ReadStream } from "node:fs";
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { readBuffer, recycleReadBuffer } from "../util/read_buffers.ts";
import { StorageError } from "../util/errors.ts";

export interface FileRange {
  path: string;
  start: number;
  length: number;
}

const CHUNK_BYTES = 64 * 1024;

/** The ranges of `partSize` bytes (the last one shorter) that make up the first `sizeBytes` of `path`. */
export function fileParts(path: string, sizeBytes: number, partSize: number): FileRange[] {
  const parts: FileRange[] = [];
  for (let start = 0; start < sizeBytes; start += partSize) {
    parts.push({ path, start, length: Math.min(partSize, sizeBytes - start) });
  }
  return parts;
}

/** A fresh stream of the range's bytes. */
export function openRange(range: FileRange): ReadStream {
  return createReadStream(range.path, {
    start: range.start,
    end: range.start + range.length - 1,
    highWaterMark: CHUNK_BYTES,
  });
}

/** Fails unless the file holds exactly `sizeBytes`: a part cut from a file of another size would be wrong. */
export async function checkFileSize(path: string, sizeBytes: number, what: string): Promise<void> {
  const { size } = await Deno.stat(path);
  if (size !== sizeBytes) {
    throw new StorageError(`Cannot ${what}: the file has ${size} bytes, not the ${sizeBytes} announced`);
  }
}

export interface RangeDigests {
  /** Hex SHA-256, for a signed payload (x-amz-content-sha256). */
  sha256?: string;
  /** Base64 of the big-endian CRC-32, as S3's x-amz-checksum-crc32 carries it. */
  crc32?: string;
}

/** Reads the range once for the digests asked for (none asked: no read). */
export async function digestRange(
  range: FileRange,
  want: { sha256: boolean; crc32: boolean },
  what: string,
): Promise<RangeDigests> {
  if (!want.sha256 && !want.crc32) return {};
  const hash = want.sha256 ? createHash("sha256") : undefined;
  let crc = 0;
  const buffer = readBuffer(CHUNK_BYTES);
  const file = await Deno.open(range.path, { read: true });
  try {
    await file.seek(range.start, Deno.SeekMode.Start);
    let left = range.length;
    while (left > 0) {
      const n = await file.read(buffer.subarray(0, Math.min(left, buffer.length)));
      if (n === null) {
        throw new StorageError(`Cannot ${what}: the file ended ${left} bytes before the part's end`);
      }
      const chunk = buffer.subarray(0, n);
      hash?.update(chunk);
      if (want.crc32) crc = crc32(chunk, crc);
      left -= n;
    }
  } finally {
    file.close();
    recycleReadBuffer(buffer);
  }
  const digests: RangeDigests = {};
  if (hash) digests.sha256 = hash.digest("hex");
  if (want.crc32) {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, crc >>> 0);
    digests.crc32 = btoa(String.fromCharCode(...bytes));
  }
  return digests;
}
