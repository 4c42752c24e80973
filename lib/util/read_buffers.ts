/**
 * Recycled 1 MiB read buffers. A file stream reads into one (readBuffer); a reader that has consumed a
 * chunk hands its buffer back (recycleReadBuffer) and the next read reuses it, so reading a large file
 * costs neither fresh memory per megabyte (page faults, garbage awaiting a GC) nor a zero fill.
 *
 * Only buffers made here are ever taken back, and only by a reader that promises to hold no view of
 * them afterwards: a consumer that keeps chunks (Response, an upload) simply never hands them back.
 */
export const READ_BUFFER_BYTES = 1 << 20;
const MAX_SPARE = 8;

const ours = new WeakSet<ArrayBuffer>();
const spare: ArrayBuffer[] = [];

export function readBuffer(): Uint8Array {
  const buffer = spare.pop();
  if (buffer) return new Uint8Array(buffer);
  const fresh = new Uint8Array(READ_BUFFER_BYTES);
  ours.add(fresh.buffer);
  return fresh;
}

/** Takes back the buffer under `chunk` if it is one of ours; the caller must hold no view of it. */
export function recycleReadBuffer(chunk: Uint8Array): void {
  const buffer = chunk.buffer as ArrayBuffer;
  if (!ours.has(buffer) || spare.length >= MAX_SPARE || spare.includes(buffer)) return;
  spare.push(buffer);
}
