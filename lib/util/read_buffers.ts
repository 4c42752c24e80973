/**
 * Recycled 1 MiB read buffers (a BufferPool). A file stream reads into one (readBuffer); a reader that has
 * consumed a chunk hands its buffer back (recycleReadBuffer) and the next read reuses it, so reading a
 * large file costs neither fresh memory per megabyte nor a zero fill.
 */
import { BufferPool } from "./buffer_pool.ts";

export const READ_BUFFER_BYTES = 1 << 20;
const pool = new BufferPool(READ_BUFFER_BYTES, 8);

export function readBuffer(): Uint8Array {
  return pool.take();
}

/** Takes back the buffer under `chunk` if it is one of ours; the caller must hold no view of it. */
export function recycleReadBuffer(chunk: Uint8Array): void {
  pool.give(chunk);
}
