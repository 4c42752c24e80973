/** Sequential reading of whole WAL frames in large chunks (few syscalls on the sync hot path). */

/** Target chunk size in bytes; a chunk always holds at least one frame. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Buffers of finished reads, for the next: every sync reads the WAL, and a fresh megabyte each time
 * costs page faults and resident memory until the garbage collector gets to it.
 */
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 2;

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
  const size = Math.max(1, Math.floor(CHUNK_BYTES / frameSize)) * frameSize;
  const i = spare.findIndex((b) => b.byteLength >= size);
  const buffer = i >= 0 ? spare.splice(i, 1)[0]! : new ArrayBuffer(Math.max(size, CHUNK_BYTES));
  const bytes = new Uint8Array(buffer, 0, size);
  const words = new Int32Array(buffer, 0, size / 4);
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
    if (spare.length < MAX_SPARE) spare.push(buffer);
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
