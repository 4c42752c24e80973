import assert from "node:assert/strict";
import { writeU32 } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { decodeDbHeader, isSqliteHeader } from "./db_header.ts";

function header(
  pageSizeField: number,
  options: { counter?: number; validFor?: number; pages?: number } = {},
) {
  const bytes = new Uint8Array(100);
  bytes.set(new TextEncoder().encode("SQLite format 3\0"));
  bytes[16] = pageSizeField >> 8;
  bytes[17] = pageSizeField & 0xff;
  bytes[18] = 2;
  bytes[19] = 2;
  writeU32(bytes, 24, options.counter ?? 7);
  writeU32(bytes, 28, options.pages ?? 42);
  writeU32(bytes, 92, options.validFor ?? 7);
  return bytes;
}

Deno.test("decodeDbHeader() reads page size, versions and page count", () => {
  assert.deepEqual(decodeDbHeader(header(4096)), {
    pageSize: 4096,
    writeVersion: 2,
    readVersion: 2,
    pageCount: 42,
  });
});

Deno.test("decodeDbHeader() reads page size 1 as 65536", () => {
  assert.equal(decodeDbHeader(header(1)).pageSize, 65536);
});

Deno.test("decodeDbHeader() reports page count 0 when the change counter is not valid-for", () => {
  assert.equal(decodeDbHeader(header(512, { counter: 8, validFor: 7 })).pageCount, 0);
});

Deno.test("decodeDbHeader() rejects invalid page sizes", () => {
  for (const size of [0, 2, 256, 1000, 4097]) {
    assert.throws(() => decodeDbHeader(header(size)), CorruptionError, `page size ${size}`);
  }
});

Deno.test("decodeDbHeader() rejects non-SQLite and short bytes", () => {
  const notSqlite = header(4096);
  notSqlite[0] = 0x73; // "sQLite"
  assert.throws(() => decodeDbHeader(notSqlite), CorruptionError);
  assert.throws(
    () => decodeDbHeader(new TextEncoder().encode("hello world, this is not sqlite")),
    CorruptionError,
  );
  assert.throws(() => decodeDbHeader(header(4096).subarray(0, 50)), CorruptionError);
  assert.throws(() => decodeDbHeader(new Uint8Array(0)), CorruptionError);
});

Deno.test("isSqliteHeader() checks the 16-byte magic", () => {
  assert.equal(isSqliteHeader(header(4096)), true);
  assert.equal(isSqliteHeader(header(4096).subarray(0, 16)), true);
  assert.equal(isSqliteHeader(header(4096).subarray(0, 15)), false);
  assert.equal(isSqliteHeader(new TextEncoder().encode("SQLite format 3 ")), false);
  assert.equal(isSqliteHeader(new Uint8Array(100)), false);
});
