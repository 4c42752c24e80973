/**
 * Measures the LZ4 and CRC-64 code of lib/ltx against maintained npm LZ4 packages that run in Deno
 * without native addons, and (with --restore-mib=N) an N MiB restore against `cp`.
 *
 *   deno run --no-lock -A scripts/bench/lz4_bench.ts [--restore-mib=256]
 *
 * The npm packages are imported dynamically so that type-checking the project does not fetch them.
 */

import { compressBlock, compressBlockBound, compressBlockInto, decompressBlockInto } from "../../lib/ltx/lz4_block.ts";
import { Crc64 } from "../../lib/ltx/checksum.ts";
import { LtxDecoder } from "../../lib/ltx/decoder.ts";
import { LtxEncoder } from "../../lib/ltx/encoder.ts";
import { mergePages } from "../../lib/ltx/merge.ts";
import { HEADER_FLAG_NO_CHECKSUM, lockPgno } from "../../lib/ltx/header.ts";

const PACKAGES = {
  lz4js: "npm:lz4js@0.2.0",
  lz4Wasm: "npm:lz4-wasm-nodejs@0.9.2",
  wabt: "npm:wabt@1.0.39",
};

interface BlockCodec {
  name: string;
  /** Returns the compressed block (raw LZ4 block, no prefix). */
  compress(src: Uint8Array): Uint8Array;
  /** Decompresses a raw LZ4 block of known output size. */
  decompress(block: Uint8Array, size: number): Uint8Array;
}

// --- Synthetic SQLite-like pages ---------------------------------------------------------------

let seed = 0x9e3779b9;
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

const encoder = new TextEncoder();
const WORDS = ["alice", "bob", "carol", "dave", "order", "paid", "shipped", "pending", "berlin", "tokyo"];

/** A table-leaf-like page: header, cell pointers, records of text and integers, some free space. */
function rowsPage(size: number): Uint8Array {
  const page = new Uint8Array(size);
  page[0] = 0x0d;
  let end = size;
  let cell = 0;
  const fill = 0.55 + (rand() % 40) / 100;
  while (end > size * (1 - fill)) {
    const id = 100000 + (rand() % 900000);
    const text = `${WORDS[rand() % WORDS.length]}-${id}@example.com|${WORDS[rand() % WORDS.length]}|` +
      `${1700000000 + (rand() % 10000000)}|${(rand() % 100000) / 100}`;
    const bytes = encoder.encode(text);
    if (end - bytes.length - 8 < 12 + 2 * (cell + 1)) break;
    end -= bytes.length + 8;
    page.set([bytes.length, 6, 1, 4, 0x17, id & 0xff, id >> 8 & 0xff, 0], end);
    page.set(bytes, end + 8);
    page[12 + 2 * cell] = end >> 8;
    page[13 + 2 * cell] = end & 0xff;
    cell++;
  }
  return page;
}

function randomPage(size: number): Uint8Array {
  const page = new Uint8Array(size);
  for (let i = 0; i < size; i++) page[i] = rand() & 0xff;
  return page;
}

function mixedPage(size: number): Uint8Array {
  const page = rowsPage(size);
  page.set(randomPage(size >> 1), size >> 2);
  return page;
}

/** 60% rows, 20% random blobs, 20% half-and-half. */
function makePages(size: number, count: number): Uint8Array[] {
  const pages: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % 10;
    pages.push(k < 6 ? rowsPage(size) : k < 8 ? randomPage(size) : mixedPage(size));
  }
  return pages;
}

// --- Codecs ------------------------------------------------------------------------------------

function walshipCodec(): BlockCodec {
  return {
    name: "walship lz4_block.ts",
    compress: compressBlock,
    decompress(block, size) {
      const out = new Uint8Array(size);
      if (decompressBlockInto(block, out) !== size) throw new Error("walship: wrong size");
      return out;
    },
  };
}

function literalBlock(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(compressBlockBound(src.length));
  let at = 0;
  out[at++] = Math.min(src.length, 15) << 4;
  if (src.length >= 15) {
    let rest = src.length - 15;
    for (; rest >= 255; rest -= 255) out[at++] = 255;
    out[at++] = rest;
  }
  out.set(src, at);
  return out.slice(0, at + src.length);
}

interface Lz4js {
  compressBound(n: number): number;
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, table: Uint32Array): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}

async function lz4jsCodec(): Promise<BlockCodec> {
  const mod = await import(PACKAGES.lz4js);
  const lz4 = (mod.default ?? mod) as Lz4js;
  const table = new Uint32Array(1 << 16);
  return {
    name: PACKAGES.lz4js,
    compress(src) {
      table.fill(0);
      const dst = new Uint8Array(lz4.compressBound(src.length));
      const n = lz4.compressBlock(src, dst, 0, src.length, table);
      // lz4js returns 0 when it found no match; emit the literal-only block it would not write.
      return n > 0 ? dst.slice(0, n) : literalBlock(src);
    },
    decompress(block, size) {
      const out = new Uint8Array(size);
      const n = lz4.decompressBlock(block, out, 0, block.length, 0);
      if (n !== size) throw new Error(`lz4js: wrong size ${n}`);
      return out;
    },
  };
}

interface Lz4Wasm {
  compress(src: Uint8Array): Uint8Array;
  decompress(src: Uint8Array): Uint8Array;
}

/** lz4_flex in wasm: its blocks carry a 4-byte little-endian size prefix, added and stripped here. */
async function lz4WasmCodec(): Promise<BlockCodec> {
  const mod = await import(PACKAGES.lz4Wasm);
  const lz4 = (mod.default ?? mod) as Lz4Wasm;
  return {
    name: PACKAGES.lz4Wasm,
    compress: (src) => lz4.compress(src).subarray(4),
    decompress(block, size) {
      const prefixed = new Uint8Array(block.length + 4);
      new DataView(prefixed.buffer).setUint32(0, size, true);
      prefixed.set(block, 4);
      const out = lz4.decompress(prefixed);
      if (out.length !== size) throw new Error("lz4-wasm: wrong size");
      return out;
    },
  };
}

// --- Measurement -------------------------------------------------------------------------------

function bestMbPerSecond(bytes: number, run: () => void, rounds = 5): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return bytes / 1e6 / (best / 1e3);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Round trips, cross-decoding with walship, and the fixture block from spec §6.2. */
function checkCorrectness(codec: BlockCodec, pages: Uint8Array[]): string {
  const mine = walshipCodec();
  const fixture = Uint8Array.from(
    "7f404142434445460700ffd300e30100ea01c0434445464041424344454640".match(/../g)!.map((h) => parseInt(h, 16)),
  );
  const expected = Uint8Array.from({ length: 512 }, (_, i) => 0x40 + i % 7);
  if (!same(codec.decompress(fixture, 512), expected)) return "FAILS the spec §6.2 vector";
  const edge = [0, 1, 5, 12, 13, 14, 15, 16, 17, 255, 256, 4095, 65536].map((n) => rowsPage(Math.max(n, 1)).subarray(0, n));
  for (const page of [...pages.slice(0, 200), ...edge]) {
    const block = codec.compress(page);
    if (!same(codec.decompress(block, page.length), page)) return `FAILS round trip (${page.length} bytes)`;
    if (!same(mine.decompress(block, page.length), page)) return "output not readable by walship";
    if (!same(codec.decompress(mine.compress(page), page.length), page)) return "cannot read walship output";
  }
  return "ok";
}

async function benchCodecs(): Promise<void> {
  const codecs: BlockCodec[] = [walshipCodec()];
  for (const make of [lz4jsCodec, lz4WasmCodec]) {
    try {
      codecs.push(await make());
    } catch (err) {
      console.log(`skipped: ${err instanceof Error ? err.message : err}`);
    }
  }
  for (const [size, count] of [[4096, 16384], [65536, 1024]] as const) {
    const pages = makePages(size, count);
    const total = size * count;
    console.log(`\n${size}-byte pages, ${total / 2 ** 20} MiB (60% rows, 20% random, 20% mixed)`);
    console.log("codec | compress MB/s | decompress MB/s | ratio | correctness");
    for (const codec of codecs) {
      const blocks = pages.map((p) => codec.compress(p));
      const compressed = blocks.reduce((n, b) => n + b.length, 0);
      const c = bestMbPerSecond(total, () => pages.forEach((p) => codec.compress(p)));
      const d = bestMbPerSecond(total, () => blocks.forEach((b) => codec.decompress(b, size)));
      const ok = checkCorrectness(codec, pages);
      console.log(`${codec.name} | ${c.toFixed(0)} | ${d.toFixed(0)} | ${(compressed / total).toFixed(3)} | ${ok}`);
    }
    const scratch = new Uint8Array(compressBlockBound(size));
    const out = new Uint8Array(size);
    const blocks = pages.map((p) => compressBlock(p));
    const ci = bestMbPerSecond(total, () => pages.forEach((p) => compressBlockInto(p, scratch)));
    const di = bestMbPerSecond(total, () => blocks.forEach((b) => decompressBlockInto(b, out)));
    console.log(`walship, no allocation (…Into) | ${ci.toFixed(0)} | ${di.toFixed(0)} | | `);
  }
}

// --- CRC-64 ------------------------------------------------------------------------------------

const CRC_WAT = `(module (memory (export "memory") 2)
  (func (export "update") (param $crc i64) (param $p i32) (param $n i32) (result i64)
    (local $end i32) (local $a i64) (local $b i64)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -16))))
    (block $out (loop $top (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $a (i64.xor (local.get $crc) (i64.load (local.get $p))))
      (local.set $b (i64.load offset=8 (local.get $p)))
      (local.set $crc (i64.const 0))
      ${
  Array.from({ length: 16 }, (_, k) => {
    const word = k < 8 ? "$a" : "$b";
    const shift = (k % 8) * 8;
    const table = (15 - k) * 2048;
    return `(local.set $crc (i64.xor (local.get $crc) (i64.load offset=${table} (i32.shl (i32.and (i32.wrap_i64 ` +
      `(i64.shr_u (local.get ${word}) (i64.const ${shift}))) (i32.const 255)) (i32.const 3)))))`;
  }).join("\n      ")
}
      (local.set $p (i32.add (local.get $p) (i32.const 16))) (br $top)))
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $n) (i32.const 15))))
    (block $out1 (loop $top1 (br_if $out1 (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $crc (i64.xor (i64.load (i32.shl (i32.and (i32.xor (i32.wrap_i64 (local.get $crc))
        (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 3))) (i64.shr_u (local.get $crc) (i64.const 8))))
      (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $top1)))
    (local.get $crc)))`;

interface Wabt {
  parseWat(name: string, text: string): { toBinary(o: object): { buffer: Uint8Array } };
}

/** A slicing-by-16 CRC-64/ISO in hand-written WebAssembly; data is copied into its memory. */
async function wasmCrc(): Promise<(data: Uint8Array) => bigint> {
  const mod = await import(PACKAGES.wabt);
  const wabt = await (mod.default as () => Promise<Wabt>)();
  const { buffer } = wabt.parseWat("crc.wat", CRC_WAT).toBinary({});
  const { instance } = await WebAssembly.instantiate(buffer);
  const exports = instance.exports as { memory: WebAssembly.Memory; update(c: bigint, p: number, n: number): bigint };
  const memory = new Uint8Array(exports.memory.buffer);
  const view = new DataView(exports.memory.buffer);
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ 0xd800000000000000n : c >> 1n;
    view.setBigUint64(n * 8, c, true);
  }
  for (let s = 1; s < 16; s++) {
    for (let n = 0; n < 256; n++) {
      const prev = view.getBigUint64(((s - 1) * 256 + n) * 8, true);
      const next = view.getBigUint64(Number(prev & 0xffn) * 8, true) ^ (prev >> 8n);
      view.setBigUint64((s * 256 + n) * 8, next, true);
    }
  }
  let state = -1n;
  return (data) => {
    for (let at = 0; at < data.length; at += 65536) {
      const part = data.subarray(at, at + 65536);
      memory.set(part, 32768);
      state = exports.update(state, 32768, part.length);
    }
    return state;
  };
}

async function benchCrc(): Promise<void> {
  console.log("\nCRC-64/ISO | 4 KiB MB/s | 64 KiB MB/s");
  const small = makePages(4096, 16384);
  const large = makePages(65536, 1024);
  const crc = new Crc64();
  const js4 = bestMbPerSecond(64 * 2 ** 20, () => small.forEach((p) => crc.update(p)));
  const js64 = bestMbPerSecond(64 * 2 ** 20, () => large.forEach((p) => crc.update(p)));
  console.log(`walship checksum.ts (JS slicing-by-16) | ${js4.toFixed(0)} | ${js64.toFixed(0)}`);
  try {
    const update = await wasmCrc();
    const w4 = bestMbPerSecond(64 * 2 ** 20, () => small.forEach((p) => update(p)));
    const w64 = bestMbPerSecond(64 * 2 ** 20, () => large.forEach((p) => update(p)));
    console.log(`hand-written wasm slicing-by-16 (+ copy in) | ${w4.toFixed(0)} | ${w64.toFixed(0)}`);
  } catch (err) {
    console.log(`wasm CRC skipped: ${err instanceof Error ? err.message : err}`);
  }
}

// --- Restore vs cp -------------------------------------------------------------------------------

async function benchRestore(mib: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "walship-lz4-bench-" });
  try {
    const pageSize = 4096;
    const commit = mib * 256;
    const ltxPath = `${dir}/snapshot.ltx`;
    const dbPath = `${dir}/source.db`;
    {
      using ltx = await Deno.open(ltxPath, { write: true, create: true });
      using db = await Deno.open(dbPath, { write: true, create: true });
      const header = {
        flags: HEADER_FLAG_NO_CHECKSUM, pageSize, commit, minTxid: 1n, maxTxid: 1n, timestamp: Date.now(),
        preApplyChecksum: 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeId: 0n,
      };
      const enc = new LtxEncoder(async (chunk) => void await ltx.write(chunk), header);
      const pool = makePages(pageSize, 1024);
      for (let pgno = 1; pgno <= commit; pgno++) {
        const data = pgno === lockPgno(pageSize) ? new Uint8Array(pageSize) : pool[pgno % pool.length]!;
        await db.write(data);
        if (pgno !== lockPgno(pageSize)) await enc.encodePage(pgno, data);
      }
      await enc.finish();
    }
    const ltxSize = (await Deno.stat(ltxPath)).size;
    const cpStart = performance.now();
    await new Deno.Command("cp", { args: [dbPath, `${dir}/copy.db`] }).output();
    const cpMs = performance.now() - cpStart;

    const start = performance.now();
    {
      using out = await Deno.open(`${dir}/restored.db`, { write: true, create: true });
      const file = await Deno.open(ltxPath);
      const decoder = new LtxDecoder(file.readable, { name: ltxPath });
      const header = await decoder.readHeader();
      const batch = new Uint8Array(256 * pageSize);
      let used = 0;
      let next = 1;
      const lock = lockPgno(pageSize);
      const put = async (data: Uint8Array) => {
        batch.set(data, used);
        used += pageSize;
        if (used === batch.length) {
          await out.write(batch);
          used = 0;
        }
      };
      for await (const page of mergePages([decoder], header.commit)) {
        if (next === lock) await put(new Uint8Array(pageSize)), next++;
        await put(page.data);
        next++;
      }
      if (used > 0) await out.write(batch.subarray(0, used));
    }
    const restoreMs = performance.now() - start;
    console.log(
      `\nrestore ${mib} MiB (LTX ${(ltxSize / 2 ** 20).toFixed(0)} MiB): ${restoreMs.toFixed(0)} ms; ` +
        `cp of the database: ${cpMs.toFixed(0)} ms; ratio ${(restoreMs / cpMs).toFixed(2)}×`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const restoreArg = Deno.args.find((a) => a.startsWith("--restore-mib="));
  await benchCodecs();
  await benchCrc();
  if (restoreArg !== undefined) await benchRestore(Number(restoreArg.split("=")[1]));
}
