import assert from "node:assert/strict";
import { crcUpdateJs } from "./_crc_js.ts";
import { randomBytes } from "./_testing.ts";
import { CHECKSUM_FLAG, Crc64, crc64, crcOf, pageChecksum, pageChecksumOf } from "./checksum.ts";
import { lockPgno } from "./header.ts";

Deno.test("crc64() gives the CRC-64/ISO check value", () => {
  assert.equal(crc64(new TextEncoder().encode("123456789")), 0xb90956c775a41001n);
  assert.equal(crc64(new Uint8Array(0)), 0n);
});

Deno.test("Crc64 gives the same value however the input is split or aligned", () => {
  const data = randomBytes(70001);
  const whole = crc64(data);
  for (const step of [1, 3, 7, 16, 63, 64, 65, 4096, 65824, 65825]) {
    const crc = new Crc64();
    for (let at = 0; at < data.length; at += step) crc.update(data.subarray(at, at + step));
    assert.equal(crc.digest(), whole, `step ${step}`);
  }
  const shifted = new Uint8Array(data.length + 3);
  shifted.set(data, 3);
  assert.equal(crc64(shifted.subarray(3)), whole);
});

Deno.test("the JS CRC loop agrees with the WebAssembly kernel", () => {
  for (const size of [0, 1, 15, 16, 17, 64, 100, 4096, 5000]) {
    const data = randomBytes(size, size + 1);
    const state = { lo: 0xffffffff, hi: 0xffffffff };
    crcUpdateJs(state, data);
    const js = (BigInt((~state.hi) >>> 0) << 32n) | BigInt((~state.lo) >>> 0);
    assert.equal(js, crc64(data), `size ${size}`);
  }
});

Deno.test("pageChecksum() matches the Go ChecksumPage vectors", () => {
  assert.equal(pageChecksum(1, new Uint8Array(1024).fill(0x32)), 0xe0d53ff6f3d08215n);
  assert.equal(pageChecksum(2, new Uint8Array(1024).fill(0x33)), 0x815ca49babaa28bfn);
});

function databaseChecksum(pages: Iterable<[number, Uint8Array]>): bigint {
  let sum = CHECKSUM_FLAG;
  for (const [pgno, data] of pages) sum = CHECKSUM_FLAG | (sum ^ pageChecksum(pgno, data));
  return sum;
}

Deno.test("XOR of page checksums matches the Go database checksum vectors", () => {
  for (const [size, expected] of [[1024, 0xe1899b6d587aaaaan], [512, 0x8b87423eeeeeeeeen]] as const) {
    const pages: [number, Uint8Array][] = [[1, new Uint8Array(size).fill(0x32)], [
      2,
      new Uint8Array(size).fill(0x33),
    ]];
    assert.equal(databaseChecksum(pages), expected);
  }
  assert.equal(databaseChecksum([]), CHECKSUM_FLAG);
});

Deno.test("database checksum over 1 GiB excludes the lock page (ltx WithLockPage vector)", () => {
  const page = new Uint8Array(4096).fill(0x78);
  const lock = lockPgno(4096);
  function* pages(): Generator<[number, Uint8Array]> {
    for (let pgno = 1; pgno <= 262155; pgno++) if (pgno !== lock) yield [pgno, page];
  }
  assert.equal(databaseChecksum(pages()), 0xc19b668c376662c7n);
});

Deno.test("Crc64.append() of a part's CRC equals feeding the part's bytes", () => {
  for (const size of [1, 63, 512, 4096, 65536]) {
    const head = randomBytes(777, size);
    const part = randomBytes(size, size + 7);
    const fed = new Crc64();
    fed.update(head);
    fed.update(part);
    const appended = new Crc64();
    appended.update(head);
    appended.append(crcOf(part), size);
    assert.equal(appended.digest(), fed.digest(), `size ${size}`);
  }
});

Deno.test("pageChecksumOf() equals pageChecksum() without a second pass", () => {
  for (const [pgno, size] of [[1, 512], [2, 1024], [70000, 4096], [0xfffffffe, 65536]] as const) {
    const data = randomBytes(size, pgno);
    const { lo, hi } = pageChecksumOf(pgno, crcOf(data), size);
    assert.equal(CHECKSUM_FLAG | (BigInt(hi) << 32n) | BigInt(lo), pageChecksum(pgno, data));
  }
  const { lo, hi } = pageChecksumOf(1, crcOf(new Uint8Array(1024).fill(0x32)), 1024);
  assert.equal(CHECKSUM_FLAG | (BigInt(hi) << 32n) | BigInt(lo), 0xe0d53ff6f3d08215n);
});
