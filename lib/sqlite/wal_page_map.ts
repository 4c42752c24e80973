/** Which WAL frame holds the newest committed version of each page (Litestream `pageMap`, spec §2.5). */

import { readAt, readU32 } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { readFrameChunks } from "./_frame_chunks.ts";
import { walChecksumWords } from "./wal_checksum.ts";
import {
  decodeFrameHeader,
  readFrameHeaderAt,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  walFrameSize,
} from "./wal_header.ts";
import type { WalHeader } from "./wal_header.ts";

/** The committed content of a stretch of the WAL. */
export interface WalPageMap {
  /** Page number → file offset of the frame holding its newest committed version. */
  pages: Map<number, number>;
  /** Database size in pages after the last commit read; 0 if none was read. */
  commit: number;
  /** File offset where reading started. */
  startOffset: number;
  /** File offset of the end of the last commit frame read; `startOffset` if none was read. */
  endOffset: number;
  /** Whether reading stopped early because of `maxBytes` (always at a commit boundary). */
  limited: boolean;
}

export interface ReadPageMapOptions {
  /** File offset of the first frame to read, a frame boundary. @default 32 */
  offset?: number;
  /** Stop at the first commit boundary at or past this many bytes from `offset`; 0 = no limit. @default 0 */
  maxBytes?: number;
}

/** The frame before a resume offset is missing or carries other salts (the WAL was restarted or rewritten). */
export class PrevFrameMismatchError extends CorruptionError {
  override name = "PrevFrameMismatchError";
}

/**
 * Reads the valid, committed frames of an open `-wal` file from `options.offset`. Reading stops,
 * without error, at a short read or at the first frame whose salts differ from `header`'s or whose
 * checksum breaks the chain; frames after the last commit are ignored, and pages beyond the final
 * database size are dropped. When resuming past the first frame, the chain is seeded from the
 * stored checksum of the frame before `offset`, as Litestream does.
 * @throws {PrevFrameMismatchError} when resuming and the previous frame is incomplete or has other salts
 * @throws {CorruptionError} when `offset` is not on a frame boundary
 */
export async function readPageMap(
  file: Deno.FsFile,
  header: WalHeader,
  options: ReadPageMapOptions = {},
): Promise<WalPageMap> {
  const startOffset = options.offset ?? WAL_HEADER_SIZE;
  const maxBytes = options.maxBytes ?? 0;
  if (!Number.isSafeInteger(startOffset) || startOffset < WAL_HEADER_SIZE) {
    throw new RangeError(`WAL offset must be an integer of at least ${WAL_HEADER_SIZE}, got ${startOffset}`);
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  const { pageSize, salt1, salt2, bigEndianChecksum } = header;
  const frameSize = walFrameSize(pageSize);
  const state = new Uint32Array(2);
  if (startOffset === WAL_HEADER_SIZE) {
    state[0] = header.checksum1;
    state[1] = header.checksum2;
  } else {
    const prev = await readPreviousFrameChecksum(file, header, startOffset);
    state[0] = prev[0];
    state[1] = prev[1];
  }

  const pages = new Map<number, number>();
  // (pgno, offset) pairs of the open transaction, merged into `pages` only at its commit frame.
  const pending: number[] = [];
  const pageWords = pageSize / 4;
  let commit = 0;
  let endOffset = startOffset;
  let limited = false;
  scan: for await (const chunk of readFrameChunks(file, startOffset, frameSize)) {
    const { bytes, words } = chunk;
    for (let i = 0, at = 0; i < chunk.frameCount; i++, at += frameSize) {
      if (readU32(bytes, at + 8) !== salt1 || readU32(bytes, at + 12) !== salt2) break scan;
      // The chain covers frame-header bytes 0..7, then the page (spec §1.5).
      const w = at / 4;
      walChecksumWords(words, w, w + 2, bigEndianChecksum, state);
      walChecksumWords(words, w + 6, w + 6 + pageWords, bigEndianChecksum, state);
      if (state[0] !== readU32(bytes, at + 16) || state[1] !== readU32(bytes, at + 20)) break scan;
      const frameOffset = chunk.offset + at;
      pending.push(readU32(bytes, at), frameOffset);
      const frameCommit = readU32(bytes, at + 4);
      if (frameCommit === 0) continue;
      // Later frames overwrite earlier ones: the newest version of a page wins.
      for (let k = 0; k < pending.length; k += 2) pages.set(pending[k]!, pending[k + 1]!);
      pending.length = 0;
      commit = frameCommit;
      endOffset = frameOffset + frameSize;
      if (maxBytes > 0 && endOffset - startOffset >= maxBytes) {
        limited = true;
        break scan;
      }
    }
  }
  // The database shrank (VACUUM): pages past the final size are not part of the image.
  for (const pgno of pages.keys()) if (pgno > commit) pages.delete(pgno);
  return { pages, commit, startOffset, endOffset, limited };
}

/** The stored checksum of the frame before `offset`, which must be complete and carry the header salts. */
async function readPreviousFrameChecksum(
  file: Deno.FsFile,
  header: WalHeader,
  offset: number,
): Promise<[number, number]> {
  const frameSize = walFrameSize(header.pageSize);
  if ((offset - WAL_HEADER_SIZE) % frameSize !== 0) {
    throw new CorruptionError(
      `Cannot resume WAL at offset ${offset}: not a frame boundary for page size ${header.pageSize}`,
    );
  }
  const prevOffset = offset - frameSize;
  const frame = await readAt(file, prevOffset, frameSize);
  if (frame.length < frameSize) {
    throw new PrevFrameMismatchError(
      `Cannot resume WAL at offset ${offset}: previous frame at ${prevOffset} is incomplete`,
    );
  }
  const prev = decodeFrameHeader(frame);
  if (prev.salt1 !== header.salt1 || prev.salt2 !== header.salt2) {
    throw new PrevFrameMismatchError(
      `Cannot resume WAL at offset ${offset}: previous frame salts ${hex(prev.salt1)}/${hex(prev.salt2)} ` +
        `differ from ${hex(header.salt1)}/${hex(header.salt2)}`,
    );
  }
  return [prev.checksum1, prev.checksum2];
}

/**
 * The distinct salt pairs of the frame headers from offset 32, in order of appearance, up to and
 * including the first frame carrying `until`, or to the end of the file. No checksum is checked
 * (Litestream `FrameSaltsUntil`, used to count WAL generations).
 */
export async function frameSaltsUntil(
  file: Deno.FsFile,
  header: WalHeader,
  until: { salt1: number; salt2: number },
): Promise<Array<{ salt1: number; salt2: number }>> {
  const found: Array<{ salt1: number; salt2: number }> = [];
  const add = (salt1: number, salt2: number): boolean => {
    if (!found.some((s) => s.salt1 === salt1 && s.salt2 === salt2)) found.push({ salt1, salt2 });
    return salt1 === until.salt1 && salt2 === until.salt2;
  };
  const frameSize = walFrameSize(header.pageSize);
  let next = WAL_HEADER_SIZE;
  for await (const chunk of readFrameChunks(file, WAL_HEADER_SIZE, frameSize)) {
    for (let i = 0, at = 0; i < chunk.frameCount; i++, at += frameSize) {
      if (add(readU32(chunk.bytes, at + 8), readU32(chunk.bytes, at + 12))) return found;
    }
    next = chunk.offset + chunk.frameCount * frameSize;
  }
  // Litestream reads headers only, so a torn last frame with a whole header still counts.
  const last = await readFrameHeaderAt(file, next);
  if (last !== null) add(last.salt1, last.salt2);
  return found;
}

/**
 * The page stored in the frame at `frameOffset` of an open `-wal` file.
 * @throws {CorruptionError} when the file ends before the page does
 */
export async function readFramePage(
  file: Deno.FsFile,
  frameOffset: number,
  pageSize: number,
): Promise<Uint8Array> {
  const page = await readAt(file, frameOffset + WAL_FRAME_HEADER_SIZE, pageSize);
  if (page.length < pageSize) {
    throw new CorruptionError(
      `Cannot read WAL frame at offset ${frameOffset}: file ends ${
        pageSize - page.length
      } bytes short of the page`,
    );
  }
  return page;
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}
