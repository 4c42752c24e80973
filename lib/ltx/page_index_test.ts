import assert from "node:assert/strict";
import { CorruptionError } from "../util/errors.ts";
import { hex } from "./_testing.ts";
import { decodePageIndex, putUvarint } from "./page_index.ts";

Deno.test("decodePageIndex() reads the v052 snapshot index of spec §6.2", () => {
  assert.deepEqual(decodePageIndex(hex("01 64 29 02 8d01 29 03 b601 29 00")), [
    { pgno: 1, offset: 100, size: 41 },
    { pgno: 2, offset: 141, size: 41 },
    { pgno: 3, offset: 182, size: 41 },
  ]);
  assert.deepEqual(decodePageIndex(hex("02 64 29 04 8d01 29 00 0000000000000008")).length, 2);
});

Deno.test("putUvarint() encodes like Go binary.PutUvarint, beyond 32 bits", () => {
  const out = new Uint8Array(10);
  for (
    const [value, expected] of [[0, "00"], [127, "7f"], [128, "8001"], [300, "ac02"], [
      2 ** 35,
      "8080808080 01",
    ]] as const
  ) {
    assert.deepEqual(out.slice(0, putUvarint(out, 0, value)), hex(expected));
  }
  const big = 2 ** 40 + 12345;
  const n = putUvarint(out, 0, big);
  assert.deepEqual(decodePageIndex(Uint8Array.of(1, ...out.subarray(0, n), 5, 0)), [{
    pgno: 1,
    offset: big,
    size: 5,
  }]);
});

Deno.test("decodePageIndex() rejects malformed areas", () => {
  for (
    const bad of [
      "01 64",
      "01 64 29",
      "02 64 29 01 8d01 29 00",
      "01 64 29 00 0000000000000009",
      "01 64 29 00 00",
      "ffffffffffffffffff 01",
    ]
  ) {
    assert.throws(() => decodePageIndex(hex(bad), "i.ltx"), (err: unknown) => {
      assert.ok(err instanceof CorruptionError);
      assert.match(err.message, /Corrupt page index in "i\.ltx"/);
      return true;
    }, bad);
  }
});
