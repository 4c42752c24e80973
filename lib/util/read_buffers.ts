/**
 * Recycled read buffers (BufferPools, 1 MiB unless a reader asks for another size). A file stream reads
 * into one (readBuffer); a reader that has consumed a chunk hands its buffer back (recycleReadBuffer) and
 * the next read reuses it, so reading a large file costs neither fresh memory per megabyte nor a zero
 * fill, nor the heap fragmentation that a steady churn of freed large buffers leaves behind.
 */
import { BufferPool } from "./buffer_pool.ts";

export const READ_BUFFER_BYTES = 1 << 20;
const SPARE_BUFFERS = 8;
const pools = new Map<number, BufferPool>();

export function readBuffer(size = READ_BUFFER_BYTES): Uint8Array {
  return poolOf(size).take();
}

function poolOf(size: number): BufferPool {
  let pool = pools.get(size);
  if (!pool) pools.set(size, pool = new BufferPool(size, SPARE_BUFFERS));
  return pool;
}

/**
 * Lets the pool of `size` keep at least `count` spare buffers until disposed: for a reader that holds
 * many buffers at once (a restore fetching files ahead) and would otherwise allocate afresh whatever the
 * pool let go. Disposing returns to the previous limit, so a long-running process does not keep them.
 */
export function keepReadBuffers(count: number, size = READ_BUFFER_BYTES): Disposable {
  const pool = poolOf(size);
  const previous = pool.maxSpare;
  pool.keepAtLeast(count);
  return { [Symbol.dispose]: () => pool.limitSpare(previous) };
}

/** Takes back the buffer under `chunk` if it is one of ours; the caller must hold no view of it. */
export function recycleReadBuffer(chunk: Uint8Array): void {
  pools.get(chunk.buffer.byteLength)?.give(chunk);
}

/** A partly filled buffer is passed on after this long, so a slow body still moves (a full one waits for nothing). */
const FILL_PATIENCE_MS = 2000;

/**
 * Re-reads a byte stream (a fetch body) into read buffers, each filled before it is passed on. The
 * default reader hands out a fresh buffer of ~60 KiB per socket read: a page fault and a zero fill per
 * 4 KiB downloaded, and garbage. Readers recycle these like file chunks. A stream that cannot be read
 * into a given buffer (not a byte stream) passes through as it is, and so does a body of fewer than
 * `sizeBytes` (a header read): a whole buffer for it would be dropped by a reader that keeps no pool.
 */
export function inReadBuffers(
  stream: ReadableStream<Uint8Array>,
  sizeBytes?: number,
): ReadableStream<Uint8Array> {
  if (sizeBytes !== undefined && sizeBytes < READ_BUFFER_BYTES / 2) return stream;
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch {
    return stream;
  }
  const pool = poolOf(READ_BUFFER_BYTES);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let buffer = pool.take();
      let used = 0;
      let done = false;
      const started = Date.now();
      while (used < buffer.length && !(used > 0 && Date.now() - started > FILL_PATIENCE_MS)) {
        // The read transfers the buffer into the view it returns; on error it is lost to the pool.
        const result = await reader.read(buffer.subarray(used));
        // Cancelled while reading: the buffer went into the read and is detached. Given back, the pool
        // would hand out an empty buffer (and `take` would throw); there is nothing to pass on either.
        if (!result.value) return;
        done = result.done;
        buffer = new Uint8Array(result.value.buffer as ArrayBuffer);
        used += result.value.length;
        if (done) break;
      }
      pool.adopt(buffer.buffer as ArrayBuffer);
      if (used > 0) controller.enqueue(buffer.subarray(0, used));
      else pool.give(buffer);
      if (done || used === 0) controller.close();
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
