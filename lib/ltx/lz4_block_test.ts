import assert from "node:assert/strict";
import { CorruptionError } from "../util/errors.ts";
import { hex, patternPage, randomBytes, textBytes } from "./_testing.ts";
import {
  compressBlock,
  compressBlockBound,
  decompressBlock,
  decompressBlockInto,
  decompressBlockJs,
} from "./lz4_block.ts";

interface Sequence {
  literalLength: number;
  /** Output position where the match starts; -1 for the final literals-only sequence. */
  matchStart: number;
  matchLength: number;
}

function parseSequences(block: Uint8Array): Sequence[] {
  const sequences: Sequence[] = [];
  let si = 0;
  let di = 0;
  const length = (base: number) => {
    let n = base;
    if (base === 15) { for (let b = 255; b === 255; n += b) b = block[si++]!; }
    return n;
  };
  while (si < block.length) {
    const token = block[si++]!;
    const literalLength = length(token >> 4);
    si += literalLength;
    di += literalLength;
    if (si >= block.length) {
      sequences.push({ literalLength, matchStart: -1, matchLength: 0 });
      break;
    }
    si += 2;
    const matchLength = length(token & 15) + 4;
    sequences.push({ literalLength, matchStart: di, matchLength });
    di += matchLength;
  }
  return sequences;
}

function inputs(): [string, Uint8Array][] {
  const sizes = [
    ...Array.from({ length: 301 }, (_, i) => i),
    511,
    512,
    1023,
    4095,
    4096,
    4097,
    65535,
    65536,
    65537,
    70000,
  ];
  const out: [string, Uint8Array][] = [];
  for (const size of sizes) {
    out.push([`zero ${size}`, new Uint8Array(size)]);
    out.push([`random ${size}`, randomBytes(size, size + 7)]);
    out.push([`text ${size}`, textBytes(size, size)]);
    out.push([`pattern ${size}`, patternPage(size, size & 0xff)]);
  }
  return out;
}

Deno.test("compressBlock() round trips and respects the LZ4 end rules", () => {
  for (const [name, src] of inputs()) {
    const block = compressBlock(src);
    assert.ok(block.length <= compressBlockBound(src.length), name);
    assert.deepEqual(decompressBlock(block, src.length), src, name);
    assert.deepEqual(decompressBlockJs(block, new Uint8Array(src.length)), src.length, name);
    const sequences = parseSequences(block);
    const last = sequences[sequences.length - 1]!;
    assert.equal(last.matchStart, -1, `${name}: ends with literals`);
    if (src.length >= 5) assert.ok(last.literalLength >= 5, `${name}: last 5 bytes are literals`);
    for (const s of sequences) {
      if (s.matchStart >= 0) {
        assert.ok(s.matchStart + 12 <= src.length, `${name}: match starts 12 bytes before end`);
      }
    }
  }
});

Deno.test("compressBlock() reproduces the ltx v0.5.2 block of spec §6.2 byte for byte", () => {
  const expected = hex("7f404142434445460700ffd300e30100ea01c0434445464041424344454640");
  assert.deepEqual(compressBlock(patternPage(512, 0x40)), expected);
  assert.deepEqual(decompressBlock(expected, 512), patternPage(512, 0x40));
});

Deno.test("compressBlock() always emits a block, larger than the input when incompressible", () => {
  const src = randomBytes(512);
  const block = compressBlock(src);
  assert.equal(block.length, 515);
  assert.deepEqual(decompressBlock(block, 512), src);
});

Deno.test("decompressBlock() rejects output of the wrong size", () => {
  const block = compressBlock(patternPage(512, 1));
  assert.throws(() => decompressBlock(block, 511), CorruptionError);
  assert.throws(() => decompressBlock(block, 513), /expected 513 bytes, got 512/);
  assert.throws(() => decompressBlock(new Uint8Array(0), 1), CorruptionError);
  assert.deepEqual(decompressBlock(new Uint8Array(0), 0), new Uint8Array(0));
});

Deno.test("decompressBlock() rejects malformed blocks with CorruptionError", () => {
  const cases: [string, string, number][] = [
    ["literals past the end", "50 41 42", 5],
    ["zero offset", "14 41 00 00 50 41 42 43 44 45", 10],
    ["offset before the start", "14 41 02 00 50 41 42 43 44 45", 10],
    ["ends with a match", "14 41 01 00", 6],
    ["truncated offset", "14 41 01", 6],
    ["truncated literal length", "f0 ff", 300],
    ["truncated match length", "1f 41 01 00", 40],
    ["output too large", "14 41 01 00 50 41 42 43 44 45", 8],
    ["last sequence with a match length", "51 41 42 43 44 45", 5],
  ];
  for (const [name, bytes, size] of cases) {
    assert.throws(() => decompressBlock(hex(bytes), size), CorruptionError, name);
    assert.throws(() => decompressBlockJs(hex(bytes), new Uint8Array(size)), CorruptionError, name);
  }
});

Deno.test("decompressBlockInto() handles outputs larger than the kernel buffer", () => {
  const src = textBytes(200000);
  const dst = new Uint8Array(200000);
  assert.equal(decompressBlockInto(compressBlock(src), dst), src.length);
  assert.deepEqual(dst, src);
});
