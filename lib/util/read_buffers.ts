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
