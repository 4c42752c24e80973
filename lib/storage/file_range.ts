/**
 * Upload parts cut from a local file as byte ranges, streamed from disk instead of copied into part buffers:
 * a 5 MiB S3 part or 4 MiB Azure block in flight then costs a read-ahead chunk, not its whole size (with
 * five in flight for shipping and five for compaction, the buffers were 40-60 MiB of the process). Each
 * attempt opens the range afresh, since a stream that was sent once cannot be sent again.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { readBuffer, recycleReadBuffer } from "../util/read_buffers.ts";
import { StorageError } from "../util/errors.ts";

export interface FileRange {
  path: string;
  start: number;
  length: number;
}

const CHUNK_BYTES = 64 * 1024;
/** Digest reads go into recycled buffers, so they can be larger: a 128 KiB read costs a third of two 64s. */
const DIGEST_READ_BYTES = 128 * 1024;

/** The ranges of `partSize` bytes (the last one shorter) that make up the first `sizeBytes` of `path`. */
export function fileParts(path: string, sizeBytes: number, partSize: number): FileRange[] {
  const parts: FileRange[] = [];
  for (let start = 0; start < sizeBytes; start += partSize) {
    parts.push({ path, start, length: Math.min(partSize, sizeBytes - start) });
  }
  return parts;
}

/**
 * A fresh stream of the range's bytes. node:fs's ReadStream cost four times the CPU (its read op and a
 * Buffer per chunk); Deno's file reads, synchronous since a 64 KiB read of a file just written comes from
 * the page cache in microseconds and the async op costs several times that. Each chunk is a new buffer: the
 * HTTP client may still hold one after the stream has moved on.
 */
export function openRange(range: FileRange): Readable {
  let file: Deno.FsFile | undefined;
  let left = range.length;
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    async construct(callback) {
      try {
        file = await Deno.open(range.path, { read: true });
        await file.seek(range.start, Deno.SeekMode.Start);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    read() {
      if (left === 0) return void this.push(null);
      try {
        const chunk = new Uint8Array(Math.min(CHUNK_BYTES, left));
        const n = file!.readSync(chunk);
        if (n === null) throw new StorageError(`${range.path} ended ${left} bytes before the part's end`);
        left -= n;
        this.push(Buffer.from(chunk.buffer, 0, n));
      } catch (err) {
        this.destroy(err as Error);
      }
    },
    destroy(err, callback) {
      try {
        file?.close();
      } catch {
        // closed already
      }
      callback(err);
    },
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
  const buffer = readBuffer(DIGEST_READ_BYTES);
  const file = await Deno.open(range.path, { read: true });
  try {
    await file.seek(range.start, Deno.SeekMode.Start);
    let left = range.length;
    while (left > 0) {
      const n = file.readSync(buffer.subarray(0, Math.min(left, buffer.length)));
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
