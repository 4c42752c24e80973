import assert from "node:assert/strict";
import { CorruptionError } from "../util/errors.ts";
import { fixture, makeHeader } from "./_testing.ts";
import {
  decodeHeader,
  encodeHeader,
  isSnapshotHeader,
  isValidPageSize,
  lockPgno,
  type LtxHeader,
  validateHeader,
} from "./header.ts";

function rejects(header: LtxHeader, message: string): void {
  assert.throws(() => validateHeader(header), (err: unknown) => {
    assert.ok(err instanceof CorruptionError);
    assert.equal(err.message, `Invalid LTX header: ${message}`);
    return true;
  });
}

Deno.test("validateHeader() enforces the ltx Header.Validate rules", () => {
  validateHeader(makeHeader());
  rejects(makeHeader({ flags: 1 }), "invalid flags: 0x00000001");
  rejects(makeHeader({ pageSize: 1000 }), "invalid page size: 1000");
  rejects(makeHeader({ minTxid: 0n }), "minimum transaction id required");
  rejects(makeHeader({ maxTxid: 0n }), "maximum transaction id required");
  rejects(makeHeader({ minTxid: 3n, maxTxid: 2n }), "transaction ids out of order: (3,2)");
  rejects(makeHeader({ walOffset: -1 }), "wal offset cannot be negative: -1");
  rejects(makeHeader({ walOffset: 32, walSize: -1 }), "wal size cannot be negative: -1");
  rejects(makeHeader({ walSalt1: 7 }), "wal offset required if salt exists");
  rejects(makeHeader({ walSize: 10 }), "wal offset required if wal size exists");
  rejects(makeHeader({ preApplyChecksum: 1n << 63n }), "pre-apply checksum must be zero on snapshots");
  rejects(makeHeader({ minTxid: 2n, maxTxid: 2n, preApplyChecksum: 5n }), "pre-apply checksum not allowed");
  const withChecksums = { flags: 0, minTxid: 2n, maxTxid: 2n };
  rejects(makeHeader({ ...withChecksums }), "pre-apply checksum required on non-snapshot files");
  rejects(makeHeader({ ...withChecksums, preApplyChecksum: 5n }), "invalid pre-apply checksum format");
  validateHeader(makeHeader({ ...withChecksums, preApplyChecksum: (1n << 63n) | 5n }));
});

Deno.test("isValidPageSize() accepts powers of two from 512 to 65536 only", () => {
  for (let size = 512; size <= 65536; size *= 2) assert.ok(isValidPageSize(size));
  for (const size of [0, 256, 511, 513, 1000, 4095, 131072, 1.5, -512]) assert.ok(!isValidPageSize(size));
});

Deno.test("lockPgno() matches the Go LockPgno table", () => {
  const table: [number, number][] = [
    [512, 2097153],
    [1024, 1048577],
    [4096, 262145],
    [8192, 131073],
    [16384, 65537],
    [32768, 32769],
    [65536, 16385],
  ];
  for (const [pageSize, pgno] of table) assert.equal(lockPgno(pageSize), pgno);
});

Deno.test("decodeHeader() reads the fixture header of spec §6.2", () => {
  const header = decodeHeader(fixture("v052/l0-0000000000000002-0000000000000002.ltx"));
  assert.deepEqual(header, {
    flags: 2,
    pageSize: 512,
    commit: 4,
    minTxid: 2n,
    maxTxid: 2n,
    timestamp: 0x18bcfe56be8,
    preApplyChecksum: 0n,
    walOffset: 1640,
    walSize: 1072,
    walSalt1: 0x11223344,
    walSalt2: 0x55667788,
    nodeId: 0n,
  });
  assert.ok(!isSnapshotHeader(header));
  assert.deepEqual(
    encodeHeader(header),
    fixture("v052/l0-0000000000000002-0000000000000002.ltx").subarray(0, 100),
  );
});

Deno.test("decodeHeader() rejects bad magic, short input and broken rules, naming the file", () => {
  const bytes = encodeHeader(makeHeader()).slice();
  bytes[0] = 0x4d;
  assert.throws(() => decodeHeader(bytes, "a.ltx"), /Invalid LTX header in "a.ltx": bad magic number/);
  assert.throws(() => decodeHeader(bytes.subarray(0, 99), "b.ltx"), /"b.ltx": only 99 bytes/);
  const badSize = encodeHeader(makeHeader()).slice();
  badSize[10] = 0x03;
  assert.throws(() => decodeHeader(badSize, "c.ltx"), (err: unknown) => {
    assert.ok(err instanceof CorruptionError);
    assert.equal(err.message, 'Invalid LTX header in "c.ltx": invalid page size: 768');
    return true;
  });
});

Deno.test("encodeHeader() round trips every field, including offsets above 4 GiB", () => {
  const header = makeHeader({
    minTxid: 0x0102030405060708n,
    maxTxid: 0xfffffffffffffff0n,
    commit: 0xffffffff,
    pageSize: 65536,
    timestamp: 1234567890123,
    walOffset: 2 ** 40 + 32,
    walSize: 2 ** 33,
    walSalt1: 0xdeadbeef,
    walSalt2: 1,
    nodeId: 0xffffffffffffffffn,
  });
  assert.deepEqual(decodeHeader(encodeHeader(header)), header);
});
