/**
 * The file checksum of an LTX file after its 100-byte header is replaced, everything after it unchanged,
 * without reading the file: CRC-64 is affine, so for equal-length inputs crc(A) ⊕ crc(B) is the
 * zero-init CRC of A ⊕ B, which here is the header difference followed by zeros (appendZeros).
 * Bit 63 of a stored checksum is the LTX flag, not CRC: it is set on the result as on the input.
 */

import { appendZeros, CHECKSUM_FLAG, crc64 } from "./checksum.ts";
import { LTX_HEADER_SIZE } from "./header.ts";

/**
 * The bytes a file checksum covers: every byte of the file but the checksum itself, with each page's
 * data uncompressed (spec §3.5). For a block-mode file, from its page index entries' frame sizes.
 */
export function checksummedLength(fileSize: number, pageSize: number, frameSizes: Iterable<number>): number {
  let length = fileSize - 8;
  // A block-mode frame is 10 bytes (pgno, flags, size) then the LZ4 block; the CRC reads the page instead.
  for (const size of frameSizes) length += pageSize - (size - 10);
  return length;
}

/**
 * The stored file checksum of an LTX file whose header changes from `from` to `to` (100 bytes each),
 * given its current stored checksum and `checksummedLength`; every other byte must stay as it is.
 */
export function reheaderChecksum(
  fileChecksum: bigint,
  from: Uint8Array,
  to: Uint8Array,
  checksummed: number,
): bigint {
  if (from.length !== LTX_HEADER_SIZE || to.length !== LTX_HEADER_SIZE) {
    throw new RangeError(`LTX headers are ${LTX_HEADER_SIZE} bytes`);
  }
  const diff = from.map((b, i) => b ^ to[i]!);
  // The zero-init CRC of the difference: the affine parts of two same-length CRCs cancel.
  const register = crc64(diff) ^ crc64(new Uint8Array(LTX_HEADER_SIZE));
  const delta = appendZeros(register, checksummed - LTX_HEADER_SIZE);
  return CHECKSUM_FLAG | ((fileChecksum ^ delta) & ~CHECKSUM_FLAG);
}
