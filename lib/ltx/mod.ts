/** LTX v3 files: names, header, CRC-64/ISO, LZ4, streaming encoder and decoder, merge and compaction. */

export { formatTxid, ltxFileName, parseLtxFileName, parseTxid } from "./txid.ts";
export {
  decodeHeader,
  decodeTrailer,
  encodeHeader,
  encodeTrailer,
  HEADER_FLAG_NO_CHECKSUM,
  isSnapshotHeader,
  isValidPageSize,
  lockPgno,
  LTX_HEADER_SIZE,
  LTX_PAGE_HEADER_SIZE,
  LTX_TRAILER_SIZE,
  type LtxHeader,
  type LtxTrailer,
  PAGE_FLAG_SIZE,
  validateHeader,
} from "./header.ts";
export { CHECKSUM_FLAG, Crc64, crc64, pageChecksum } from "./checksum.ts";
export { compressBlock, compressBlockBound, decompressBlock } from "./lz4_block.ts";
export { compressFrame, decompressFrame } from "./lz4_frame.ts";
export { xxh32 } from "./xxh32.ts";
export { encodeLtx, LtxEncoder, type LtxEncoderOptions } from "./encoder.ts";
export { decodeLtx, LtxDecoder, type LtxDecoderOptions, type LtxPage } from "./decoder.ts";
export { decodePageIndex, type PageIndexEntry } from "./page_index.ts";
export { compactLtx, mergedHeader, mergePages } from "./merge.ts";
