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
  let pool = pools.get(size);
  if (!pool) pools.set(size, pool = new BufferPool(size, SPARE_BUFFERS));
  return pool.take();
}

/** Takes back the buffer under `chunk` if it is one of ours; the caller must hold no view of it. */
export function recycleReadBuffer(chunk: Uint8Array): void {
  pools.get(chunk.buffer.byteLength)?.give(chunk);
}
