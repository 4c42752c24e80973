/**
 * The ways a store sends a body of known size: whole (one buffer of exactly that size), or in parts (S3
 * multipart, Azure staged blocks), a few in flight at once, either cut into recycled buffers from the
 * body's stream or, when the body is a local file, streamed from byte ranges of that file. All fail with
 * one message when the body has more or fewer bytes than announced.
 */
import type { BufferPool } from "../util/buffer_pool.ts";
import { StorageError } from "../util/errors.ts";
import { recycleReadBuffer } from "../util/read_buffers.ts";
import { checkFileSize, fileParts, type FileRange } from "./file_range.ts";

/** Reads a body that must be exactly `size` bytes into one buffer. `what` is e.g. `upload "<key>"`. */
export async function readWhole(
  stream: ReadableStream<Uint8Array>,
  size: number,
  what: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let at = 0;
  for await (const chunk of stream) {
    if (at + chunk.length > size) throw sizeMismatch(what, at + chunk.length, size);
    out.set(chunk, at);
    at += chunk.length;
    recycleReadBuffer(chunk);
  }
  if (at !== size) throw sizeMismatch(what, at, size);
  return out;
}

export interface PartOptions {
  sizeBytes: number;
  /** Where part buffers come from; its size is the part size. */
  pool: BufferPool;
  /** Parts in flight at most. */
  concurrency: number;
  what: string;
  signal?: AbortSignal;
}

/**
 * Cuts `body` into parts of the pool's size (the last one shorter) and hands each to `send` with its
 * index, at most `concurrency` at once. On the first failure the others are aborted (through the signal
 * `send` gets) and that failure is thrown. A part's buffer goes back to the pool once `send` succeeds;
 * a failed one is never reused, since a write of it may still be queued on a socket.
 */
export async function sendInParts(
  body: ReadableStream<Uint8Array>,
  options: PartOptions,
  send: (part: Uint8Array, index: number, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const { sizeBytes, pool, concurrency, what, signal } = options;
  const stop = new AbortController();
  const abortSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const throwIfFailed = () => {
    if (failure) throw failure.error; // set by a part's callback
  };
  let parts = 0;
  const start = (data: Uint8Array) => {
    const sent: Promise<void> = send(data, parts++, abortSignal).then(() => {
      inFlight.delete(sent);
      pool.give(data);
    }, (error) => {
      inFlight.delete(sent);
      failure ??= { error };
      stop.abort();
    });
    inFlight.add(sent);
  };
  const reader = body.getReader();
  let part = pool.take();
  let filled = 0;
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > sizeBytes) throw sizeMismatch(what, total, sizeBytes);
      let chunk = value;
      while (chunk.length > 0) {
        const n = Math.min(chunk.length, part.length - filled);
        part.set(chunk.subarray(0, n), filled);
        filled += n;
        chunk = chunk.subarray(n);
        // A full part with bytes still to come goes now; the last one goes after the size check.
        if (filled === part.length && total - chunk.length < sizeBytes) {
          throwIfFailed();
          start(part);
          part = pool.take();
          filled = 0;
          while (inFlight.size >= concurrency) await Promise.race(inFlight);
          throwIfFailed();
        }
      }
      recycleReadBuffer(value);
    }
    if (total !== sizeBytes) throw sizeMismatch(what, total, sizeBytes);
    throwIfFailed();
    start(part.subarray(0, filled));
    await Promise.all(inFlight);
    throwIfFailed();
  } catch (err) {
    failure ??= { error: err };
    stop.abort();
    await Promise.allSettled(inFlight);
    throw failure.error;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

export interface FilePartOptions {
  sizeBytes: number;
  partSize: number;
  /** Parts in flight at most. */
  concurrency: number;
  what: string;
  signal?: AbortSignal;
  /** Awaited before each part is handed to `send`. */
  pace?: () => Promise<void>;
}

/**
 * Hands each part of the local file at `path` to `send` as a byte range, at most `concurrency` at once, in
 * order of starting. The first failure aborts the others (through the signal `send` gets) and is thrown
 * once they have settled.
 */
export async function sendFileParts(
  path: string,
  options: FilePartOptions,
  send: (range: FileRange, index: number, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const { sizeBytes, partSize, concurrency, what, signal, pace } = options;
  await checkFileSize(path, sizeBytes, what);
  const parts = fileParts(path, sizeBytes, partSize);
  const stop = new AbortController();
  const abortSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let failure: { error: unknown } | undefined;
  let next = 0;
  const worker = async () => {
    while (!failure && next < parts.length) {
      const index = next++;
      try {
        await pace?.();
        abortSignal.throwIfAborted();
        await send(parts[index]!, index, abortSignal);
      } catch (error) {
        failure ??= { error };
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, parts.length) }, worker));
  if (failure) throw failure.error;
}

function sizeMismatch(what: string, got: number, expected: number): StorageError {
  const more = got > expected ? `more than ${expected}` : `${got}`;
  return new StorageError(`Cannot ${what}: the body had ${more} bytes, not the ${expected} announced`);
}
