/** The 100-byte header at the start of a SQLite database file, see spec §1.1. */

import { readU32 } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { isValidPageSize } from "./wal_header.ts";

/** Size in bytes of the database header. */
export const DB_HEADER_SIZE = 100;

const MAGIC = new TextEncoder().encode("SQLite format 3\0");

/** The fields of the database header that walship uses. */
export interface DbHeader {
  /** Page size in bytes; the stored value 1 means 65536. */
  pageSize: number;
  /** File format write version: 1 = rollback journal, 2 = WAL. */
  writeVersion: number;
  /** File format read version: 1 = rollback journal, 2 = WAL. */
  readVersion: number;
  /**
   * In-header database size in pages, or 0 when SQLite would not trust it (the file change counter
   * at offset 24 differs from the version-valid-for number at offset 92). Litestream never uses it.
   */
  pageCount: number;
}

/** Whether `bytes` starts with the magic string `"SQLite format 3\0"`. */
export function isSqliteHeader(bytes: Uint8Array): boolean {
  if (bytes.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

/**
 * Decodes the first 100 bytes of a database file.
 * @throws {CorruptionError} when they are missing, lack the SQLite magic or hold an invalid page size
 */
export function decodeDbHeader(bytes: Uint8Array): DbHeader {
  if (!isSqliteHeader(bytes)) throw new CorruptionError("Cannot read database header: not a SQLite database");
  if (bytes.length < DB_HEADER_SIZE) {
    throw new CorruptionError(`Cannot read database header: ${bytes.length} bytes, need ${DB_HEADER_SIZE}`);
  }
  const stored = (bytes[16]! << 8) | bytes[17]!;
  const pageSize = stored === 1 ? 65536 : stored;
  if (!isValidPageSize(pageSize)) {
    throw new CorruptionError(`Cannot read database header: invalid page size ${stored}`);
  }
  const isPageCountValid = readU32(bytes, 24) === readU32(bytes, 92);
  return {
    pageSize,
    writeVersion: bytes[18]!,
    readVersion: bytes[19]!,
    pageCount: isPageCountValid ? readU32(bytes, 28) : 0,
  };
}
