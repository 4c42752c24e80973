import assert from "node:assert/strict";
import { makeHeader, randomBytes, textBytes } from "./_testing.ts";
import { appendZeros, crc64 } from "./checksum.ts";
import { decodeLtx } from "./decoder.ts";
import { encodeLtx } from "./encoder.ts";
import { encodeHeader, LTX_HEADER_SIZE, type LtxHeader } from "./header.ts";
import { decodePageIndex } from "./page_index.ts";
import { checksummedLength, reheaderChecksum } from "./reheader.ts";

/** The file with its header replaced and its checksum moved, as a snapshot derived from an L0 file. */
function reheader(bytes: Uint8Array, to: LtxHeader): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const from = bytes.subarray(0, LTX_HEADER_SIZE);
  const toBytes = encodeHeader(to);
  const indexLength = Number(view.getBigUint64(bytes.length - 24));
  const index = decodePageIndex(bytes.subarray(bytes.length - 24 - indexLength, bytes.length - 24));
  const covered = checksummedLength(bytes.length, to.pageSize, index.map((e) => e.size));
  const checksum = reheaderChecksum(view.getBigUint64(bytes.length - 8), from, toBytes, covered);
  const out = bytes.slice();
  out.set(toBytes);
  new DataView(out.buffer).setBigUint64(out.length - 8, checksum);
  return out;
}

Deno.test("appendZeros() equals feeding zero bytes to a zero-init register", () => {
  // crc64 has init and xorout all ones; zero-init registers are differences of two crc64 values.
  for (const n of [0, 1, 2, 3, 7, 8, 100, 4096, 65537]) {
    const data = randomBytes(16, n + 1);
    const zeros = new Uint8Array(16 + n);
    const withZeros = new Uint8Array(16 + n);
    withZeros.set(data);
    const expected = crc64(withZeros) ^ crc64(zeros);
    const register = crc64(data) ^ crc64(new Uint8Array(16));
    assert.equal(appendZeros(register, n), expected, `${n} zero bytes`);
  }
});

Deno.test("reheaderChecksum() gives the bytes the encoder writes for the new header", async () => {
  for (const pageSize of [512, 4096, 65536]) {
    const commit = pageSize === 65536 ? 5 : 40;
    const pages: [number, Uint8Array][] = Array.from(
      { length: commit },
      (_, i) => [i + 1, i % 3 ? textBytes(pageSize, i) : randomBytes(pageSize, i + 1)],
    );
    // An L0 file holding every page at TXID 7, then the L9 snapshot of the same state.
    const l0 = makeHeader({
      pageSize,
      commit,
      minTxid: 7n,
      maxTxid: 7n,
      timestamp: 1700000000000,
      walOffset: 32,
      walSize: 123456,
      walSalt1: 0xdeadbeef,
      walSalt2: 42,
    });
    const l9 = makeHeader({ pageSize, commit, minTxid: 1n, maxTxid: 7n, timestamp: 1700000099999 });
    const derived = reheader(await encodeLtx(l0, pages), l9);
    assert.deepEqual(derived, await encodeLtx(l9, pages), `${pageSize}-byte pages`);
    assert.equal((await decodeLtx(derived)).pages.length, commit);
  }
});

Deno.test("reheaderChecksum() leaves a damaged file damaged", async () => {
  const pages: [number, Uint8Array][] = [[1, textBytes(4096)], [2, randomBytes(4096)]];
  const bytes = await encodeLtx(makeHeader({ pageSize: 4096, commit: 2, minTxid: 3n, maxTxid: 3n }), pages);
  bytes[500] ^= 1;
  const derived = reheader(bytes, makeHeader({ pageSize: 4096, commit: 2, minTxid: 1n, maxTxid: 3n }));
  await assert.rejects(() => decodeLtx(derived));
});
