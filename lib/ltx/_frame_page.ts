/** Reads one flags-0 page payload (an LZ4 frame with no size prefix) from a byte stream; private to lib/ltx. */

import { CorruptionError } from "../util/errors.ts";
import type { ByteReader } from "./_byte_reader.ts";
import {
  blockSizeWord,
  checkBlockChecksum,
  checkContentChecksum,
  decodeFrameBlock,
  frameHeaderSize,
  LZ4_FRAME_PREFIX_SIZE,
  parseFrameHeader,
  readU32Le,
} from "./lz4_frame.ts";

async function readOrFail(reader: ByteReader, n: number): Promise<Uint8Array> {
  const bytes = await reader.read(n);
  if (bytes === null) throw new CorruptionError("Cannot decompress LZ4 frame: truncated");
  return bytes;
}

/**
 * Decodes the LZ4 frame at the reader's position into `dst`, consuming exactly the frame's bytes.
 * @returns the number of decompressed bytes.
 * @throws CorruptionError when the frame is malformed or holds more than `dst.length` bytes.
 */
export async function readLz4FramePage(reader: ByteReader, dst: Uint8Array): Promise<number> {
  const prefix = (await readOrFail(reader, LZ4_FRAME_PREFIX_SIZE)).slice();
  const headerSize = frameHeaderSize(prefix);
  const header = new Uint8Array(headerSize);
  header.set(prefix);
  header.set(await readOrFail(reader, headerSize - LZ4_FRAME_PREFIX_SIZE), LZ4_FRAME_PREFIX_SIZE);
  const info = parseFrameHeader(header);
  let at = 0;
  for (;;) {
    const word = readU32Le(await readOrFail(reader, 4), 0);
    if (word === 0) break;
    const { size, isStored } = blockSizeWord(word, info);
    const payload = await readOrFail(reader, size);
    if (info.hasBlockChecksum) {
      // The payload view is only valid until the next read, so check it first.
      const stored = payload.slice();
      checkBlockChecksum(stored, readU32Le(await readOrFail(reader, 4), 0));
      at += decodeFrameBlock(stored, isStored, dst, at, info);
    } else {
      at += decodeFrameBlock(payload, isStored, dst, at, info);
    }
  }
  if (info.hasContentChecksum) {
    checkContentChecksum(dst.subarray(0, at), readU32Le(await readOrFail(reader, 4), 0));
  }
  if (info.contentSize >= 0 && info.contentSize !== at) {
    throw new CorruptionError("Cannot decompress LZ4 frame: content size mismatch");
  }
  return at;
}
