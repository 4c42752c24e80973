/** SQLite on-disk readers: WAL header, frames, page map and checksum; database header. */

export { DB_HEADER_SIZE, decodeDbHeader, isSqliteHeader } from "./db_header.ts";
export type { DbHeader } from "./db_header.ts";
export { walChecksum } from "./wal_checksum.ts";
export {
  decodeFrameHeader,
  decodeWalHeader,
  isValidPageSize,
  readFrameHeaderAt,
  readWalHeader,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  walFrameSize,
} from "./wal_header.ts";
export type { WalFrameHeader, WalHeader } from "./wal_header.ts";
export { frameSaltsUntil, PrevFrameMismatchError, readFramePage, readPageMap } from "./wal_page_map.ts";
export type { ReadPageMapOptions, WalPageMap } from "./wal_page_map.ts";
