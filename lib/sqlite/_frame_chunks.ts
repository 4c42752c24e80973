/** Sequential reading of whole WAL frames in large chunks (few syscalls on the sync hot path). */

import { READ_BUFFER_BYTES, readBuffer, recycleReadBuffer } from "../util/read_buffers.ts";

/** One chunk of whole frames; `bytes` and `words` are reused by the next chunk. */
export interface FrameChunk {
  /** The buffer holding `frameCount` whole frames from its start (the rest is stale). */
  bytes: Uint8Array;
  /** A native-order word view of `bytes`; every frame starts 8-byte aligned. */
  words: Int32Array;
  /** File offset of `bytes[0]`. */
  offset: number;
  frameCount: number;
}

/**
 * Yields the whole frames of an open `-wal` file from `offset` (a frame boundary) to the end of the
 * file; a trailing partial frame is left out. The caller may stop early with `break`.
 */
export async function* readFrameChunks(
  file: Deno.FsFile,
  offset: number,
  frameSize: number,
): AsyncGenerator<FrameChunk> {
  // A recycled 1 MiB read buffer (a frame is at most 64 KiB + 24): every sync reads the WAL, and a
  // fresh megabyte each time costs page faults and resident memory until the garbage collector runs.
  const buffer = readBuffer();
  const size = Math.floor(READ_BUFFER_BYTES / frameSize) * frameSize;
  const bytes = buffer.subarray(0, size);
  const words = new Int32Array(buffer.buffer, 0, size / 4);
  try {
    let at = offset;
    for (;;) {
      // Seek every time: another reader may have moved the shared file position between chunks.
      await file.seek(at, Deno.SeekMode.Start);
      const got = await readFull(file, bytes);
      const frameCount = Math.floor(got / frameSize);
      if (frameCount > 0) yield { bytes, words, offset: at, frameCount };
      if (got < bytes.length) return;
      at += got;
    }
  } finally {
    recycleReadBuffer(buffer);
  }
}

/** Fills `buf` from the current position; returns the byte count, short only at end of file. */
async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}
