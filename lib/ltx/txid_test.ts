import assert from "node:assert/strict";
import { WalshipError } from "../util/errors.ts";
import { formatTxid, ltxFileName, parseLtxFileName, parseTxid } from "./txid.ts";

Deno.test("formatTxid() writes 16 lowercase hex digits", () => {
  assert.equal(formatTxid(1n), "0000000000000001");
  assert.equal(formatTxid(0xabcdefn), "0000000000abcdef");
  assert.equal(formatTxid(0xffffffffffffffffn), "ffffffffffffffff");
  assert.throws(() => formatTxid(-1n), RangeError);
  assert.throws(() => formatTxid(1n << 64n), RangeError);
});

Deno.test("parseTxid() accepts exactly 16 hex digits", () => {
  assert.equal(parseTxid("000000000000000a"), 10n);
  assert.equal(parseTxid("FFFFFFFFFFFFFFFF"), 0xffffffffffffffffn);
  for (
    const bad of ["", "1", "000000000000000g", "0000000000000000a", " 000000000000001", "0x00000000000001"]
  ) {
    assert.throws(() => parseTxid(bad), (err: unknown) => {
      assert.ok(err instanceof WalshipError);
      assert.equal(err.message, `Invalid TXID "${bad}": expected 16 hex digits`);
      return true;
    });
  }
});

Deno.test("ltxFileName() and parseLtxFileName() round trip", () => {
  assert.equal(ltxFileName(1n, 2n), "0000000000000001-0000000000000002.ltx");
  assert.deepEqual(parseLtxFileName("00000000000000ff-0000000000000100.ltx"), {
    minTxid: 255n,
    maxTxid: 256n,
  });
});

Deno.test("parseLtxFileName() accepts only lowercase 16+16 hex names", () => {
  for (
    const bad of [
      "0000000000000001-0000000000000002.ltx.tmp",
      "0000000000000001-0000000000000002",
      "000000000000000A-0000000000000002.ltx",
      "000000000000001-0000000000000002.ltx",
      "x0000000000000001-0000000000000002.ltx",
      "0000000000000001_0000000000000002.ltx",
    ]
  ) {
    assert.equal(parseLtxFileName(bad), null, bad);
  }
});
