/**
 * Upload parts cut from a local file as byte ranges, streamed from disk instead of copied into part buffers:
 * a 5 MiB S3 part or 4 MiB Azure block in flight then costs a read-ahead chunk, not its whole size (with
 * five in flight for shipping and five for compaction, the buffers were 40-60 MiB of the process). Each
 * attempt opens the range afresh, since a stream that was sent once cannot be sent again.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { ClientRequest } from "node:http";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { BufferPool } from "../util/buffer_pool.ts";
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
 * the page cache in microseconds and the async op costs several times that.
 *
 * Piped into an HTTP request (what both SDKs do with a stream body), chunks come from `buffers` and go back
 * once the socket has written them: a fresh buffer per chunk cost the page faults of every byte uploaded,
 * more than the read itself. Read any other way, each chunk is a buffer of its own, since a consumer may
 * keep it.
 */
export function openRange(range: FileRange, buffers: BufferPool = chunkBuffers): Readable {
  return new RangeStream(range, buffers);
}

/** Chunk buffers for ranges being sent: a few per request in flight (parts of shipping and compaction). */
const chunkBuffers = new BufferPool(CHUNK_BYTES, 16);

class RangeStream extends Readable {
  #range: FileRange;
  #buffers: BufferPool;
  #file: Deno.FsFile | undefined;
  #left: number;
  /** Chunks lent out of `#buffers`, each to be written by a request, by the buffer under them. */
  #lent: WeakMap<Uint8Array, Uint8Array> | undefined;

  constructor(range: FileRange, buffers: BufferPool) {
    super({ highWaterMark: CHUNK_BYTES });
    this.#range = range;
    this.#buffers = buffers;
    this.#left = range.length;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    Deno.open(this.#range.path, { read: true })
      .then(async (file) => {
        this.#file = file;
        await file.seek(this.#range.start, Deno.SeekMode.Start);
      })
      .then(() => callback(), (err) => callback(err));
  }

  override _read(): void {
    if (this.#left === 0) return void this.push(null);
    try {
      const size = Math.min(CHUNK_BYTES, this.#left);
      const buffer = this.#lent ? this.#buffers.take() : new Uint8Array(size);
      const n = this.#file!.readSync(buffer.subarray(0, size));
      if (n === null) {
        throw new StorageError(`${this.#range.path} ended ${this.#left} bytes before the part's end`);
      }
      this.#left -= n;
      const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, n);
      this.#lent?.set(chunk, buffer);
      this.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    try {
      this.#file?.close();
    } catch {
      // closed already
    }
    callback(err);
  }

  /**
   * Into a ClientRequest, whose write callback fires once the socket has written the chunk (or failed to,
   * with the write over): from then on the buffer is free. Chunks the request never writes (it failed, or
   * was torn down) are left to the GC. Other destinations, such as a Transform that passes chunks on after
   * its callback, get chunks of their own.
   */
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    if (destination instanceof ClientRequest && !this.#lent) {
      noReplay(destination);
      const lent = this.#lent = new WeakMap();
      const buffers = this.#buffers;
      const write = destination.write as (this: ClientRequest, ...args: unknown[]) => boolean;
      destination.write = function (this: ClientRequest, chunk: string | Uint8Array, ...rest: unknown[]) {
        const buffer = typeof chunk === "string" ? undefined : lent.get(chunk);
        if (!buffer || rest.length > 0) return write.call(this, chunk, ...rest);
        lent.delete(chunk as Uint8Array);
        return write.call(this, chunk, (err?: Error | null) => {
          if (!err) buffers.give(buffer);
        });
      };
    }
    return super.pipe(destination, options);
  }
}

/**
 * Stops Deno's node:http from sending the request again by itself when its reused keep-alive connection
 * closes before the answer. That replay resends the chunks written so far by reference (pooled buffers,
 * reused since: wrong bytes of the right length), and with a streamed body it never went out, so the
 * request hung for good (file_range_test). The request fails instead ("socket hang up"), and the SDK
 * sends it again with a fresh stream. `_retrying` is the flag Deno sets on a replayed request.
 */
function noReplay(request: ClientRequest): void {
  (request as ClientRequest & { _retrying?: boolean })._retrying = true;
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
  /** Base64 MD5, as Content-MD5 carries it. */
  md5?: string;
  /** Base64 of the big-endian CRC-32, as S3's x-amz-checksum-crc32 carries it. */
  crc32?: string;
}

/** Reads the range once for the digests asked for (none asked: no read). */
export async function digestRange(
  range: FileRange,
  want: { sha256: boolean; crc32: boolean; md5?: boolean },
  what: string,
): Promise<RangeDigests> {
  if (!want.sha256 && !want.crc32 && !want.md5) return {};
  const hash = want.sha256 ? createHash("sha256") : undefined;
  const md5 = want.md5 ? createHash("md5") : undefined;
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
      md5?.update(chunk);
      if (want.crc32) crc = crc32(chunk, crc);
      left -= n;
    }
  } finally {
    file.close();
    recycleReadBuffer(buffer);
  }
  const digests: RangeDigests = {};
  if (hash) digests.sha256 = hash.digest("hex");
  if (md5) digests.md5 = md5.digest("base64");
  if (want.crc32) {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, crc >>> 0);
    digests.crc32 = btoa(String.fromCharCode(...bytes));
  }
  return digests;
}
