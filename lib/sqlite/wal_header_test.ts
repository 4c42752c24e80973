import assert from "node:assert/strict";
import { writeU32 } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { buildWal, openTempWal, rechecksumWal } from "./_wal_builder.ts";
import { walChecksum } from "./wal_checksum.ts";
import {
  decodeFrameHeader,
  decodeWalHeader,
  readFrameHeaderAt,
  readWalHeader,
  walFrameSize,
} from "./wal_header.ts";

const SPEC = { pageSize: 4096, salt1: 0x4875a40b, salt2: 0xa38de4f5, checkpointSeq: 3 };

/** A 32-byte WAL header with a correct checksum over the given first 24 bytes. */
function sealedHeader(fields: number[], bigEndian: boolean): Uint8Array {
  const bytes = new Uint8Array(32);
  fields.forEach((v, i) => writeU32(bytes, 4 * i, v));
  const [s0, s1] = walChecksum(bytes.subarray(0, 24), bigEndian, 0, 0);
  writeU32(bytes, 24, s0);
  writeU32(bytes, 28, s1);
  return bytes;
}

Deno.test("decodeWalHeader() reads every field in both byte orders", () => {
  for (const bigEndian of [false, true]) {
    const wal = buildWal({ ...SPEC, bigEndian, frames: [] });
    const header = decodeWalHeader(wal);
    assert.ok(header);
    const [checksum1, checksum2] = walChecksum(wal.subarray(0, 24), bigEndian, 0, 0);
    assert.deepEqual(header, {
      bigEndianChecksum: bigEndian,
      pageSize: 4096,
      checkpointSeq: 3,
      salt1: 0x4875a40b,
      salt2: 0xa38de4f5,
      checksum1,
      checksum2,
    });
  }
});

Deno.test("decodeWalHeader() keeps page size 65536 in full", () => {
  assert.equal(decodeWalHeader(buildWal({ ...SPEC, pageSize: 65536, frames: [] }))?.pageSize, 65536);
});

Deno.test("decodeWalHeader() treats a short header or a bad header checksum as an empty WAL", () => {
  const wal = buildWal({ ...SPEC, frames: [] });
  assert.equal(decodeWalHeader(wal.subarray(0, 31)), null);
  assert.equal(decodeWalHeader(new Uint8Array(0)), null);
  for (const at of [8, 16, 27, 31]) {
    const torn = wal.slice();
    torn[at]! ^= 1;
    assert.equal(decodeWalHeader(torn), null, `byte ${at} flipped`);
  }
});

Deno.test("decodeWalHeader() rejects a bad magic even when the rest is garbage", () => {
  const wal = buildWal({ ...SPEC, frames: [] });
  writeU32(wal, 0, 0x377f0684);
  assert.throws(() => decodeWalHeader(wal), CorruptionError, "invalid magic 0x377f0684");
  assert.throws(() => decodeWalHeader(new Uint8Array(32)), CorruptionError, "invalid magic");
});

Deno.test("decodeWalHeader() rejects Litestream's bad-version header", () => {
  const bytes = sealedHeader([0x377f0683, 1], true);
  assert.equal(bytes.length, 32);
  assert.deepEqual([bytes[24], bytes[25], bytes[26], bytes[27]], [0x15, 0x7b, 0x20, 0x92]);
  assert.throws(() => decodeWalHeader(bytes), CorruptionError, "unsupported WAL version 1");
});

Deno.test("decodeWalHeader() rejects an invalid page size", () => {
  for (const size of [0, 1, 1000, 131072]) {
    const bytes = sealedHeader([0x377f0682, 3007000, size, 0, 1, 2], false);
    assert.throws(() => decodeWalHeader(bytes), CorruptionError, `invalid page size ${size}`);
  }
});

Deno.test("readWalHeader() reads the header of a file, null for an empty file", async () => {
  {
    using tmp = await openTempWal(buildWal({ ...SPEC, frames: [{ pgno: 1, commit: 1 }] }));
    assert.equal((await readWalHeader(tmp.file))?.salt2, 0xa38de4f5);
  }
  {
    using tmp = await openTempWal(new Uint8Array(0));
    assert.equal(await readWalHeader(tmp.file), null);
  }
});

Deno.test("decodeFrameHeader() and readFrameHeaderAt() read the six fields", async () => {
  const wal = buildWal({ ...SPEC, frames: [{ pgno: 7 }, { pgno: 9, commit: 12 }] });
  const at = 32 + walFrameSize(4096);
  const frame = decodeFrameHeader(wal.subarray(at));
  assert.equal(frame.pgno, 9);
  assert.equal(frame.commit, 12);
  assert.equal(frame.salt1, 0x4875a40b);
  assert.equal(frame.salt2, 0xa38de4f5);
  assert.notEqual(frame.checksum1, 0);
  assert.throws(() => decodeFrameHeader(wal.subarray(0, 23)), RangeError);
  using tmp = await openTempWal(wal.subarray(0, at + 24));
  assert.deepEqual(await readFrameHeaderAt(tmp.file, at), frame);
  assert.equal(await readFrameHeaderAt(tmp.file, at + 1), null);
  assert.equal(await readFrameHeaderAt(tmp.file, at + 4096), null);
});

Deno.test("walFrameSize() adds the 24-byte frame header", () => {
  assert.equal(walFrameSize(512), 536);
  assert.equal(walFrameSize(65536), 65560);
});

Deno.test("rechecksumWal() test helper switches byte order and keeps the header valid", () => {
  const le = buildWal({ ...SPEC, frames: [{ pgno: 1, commit: 1 }] });
  const be = rechecksumWal(le, true);
  assert.equal(decodeWalHeader(be)?.bigEndianChecksum, true);
  assert.deepEqual(rechecksumWal(be, false), le);
});
