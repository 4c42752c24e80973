/**
 * Measures the LZ4 and CRC-64 code of lib/ltx against maintained npm LZ4 packages that run in Deno
 * without native addons, and (with --restore-mib=N) an N MiB restore against `cp`.
 *
 *   deno run --no-lock -A scripts/bench/lz4_bench.ts [--restore-mib=256] [--only-restore] [--only-compress]
 *
 * The npm packages are imported dynamically so that type-checking the project does not fetch them.
 */

import {
  compressBlock,
  compressBlockBound,
  compressBlockInto,
  compressBlockJs,
  decompressBlockInto,
  decompressBlockJs,
} from "../../lib/ltx/lz4_block.ts";
import { Crc64 } from "../../lib/ltx/checksum.ts";
import { crcUpdateJs } from "../../lib/ltx/_crc_js.ts";
import { kernelCrc, kernelDecompress, kernelOutput } from "../../lib/ltx/_kernels.ts";
import { LtxDecoder } from "../../lib/ltx/decoder.ts";
import { LtxEncoder } from "../../lib/ltx/encoder.ts";
import { lockPgno, noChecksumHeader } from "../../lib/ltx/header.ts";
import { writeAll } from "../../lib/util/fs.ts";

const PACKAGES = {
  lz4js: "npm:lz4js@0.2.0",
  lz4Wasm: "npm:lz4-wasm-nodejs@0.9.2",
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

function walshipCodec(name: string, decode: (block: Uint8Array, out: Uint8Array) => number): BlockCodec {
  return {
    name,
    compress: compressBlock,
    decompress(block, size) {
      const out = new Uint8Array(size);
      if (decode(block, out) !== size) throw new Error(`${name}: wrong size`);
      return out;
    },
  };
}

interface Lz4js {
  compressBound(n: number): number;
  compressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    table: Uint32Array,
  ): number;
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
      // lz4js returns 0 when it finds no match (random pages): count that page as stored.
      return n > 0 ? dst.slice(0, n) : compressBlock(src);
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
  const mine = walshipCodec("walship", decompressBlockInto);
  const fixture = Uint8Array.from(
    "7f404142434445460700ffd300e30100ea01c0434445464041424344454640".match(/../g)!.map((h) =>
      parseInt(h, 16)
    ),
  );
  const expected = Uint8Array.from({ length: 512 }, (_, i) => 0x40 + i % 7);
  if (!same(codec.decompress(fixture, 512), expected)) return "FAILS the spec §6.2 vector";
  const edge = [0, 1, 5, 12, 13, 14, 15, 16, 17, 255, 256, 4095, 65536].map((n) =>
    rowsPage(Math.max(n, 1)).subarray(0, n)
  );
  for (const page of [...pages.slice(0, 200), ...edge]) {
    const block = codec.compress(page);
    if (!same(codec.decompress(block, page.length), page)) return `FAILS round trip (${page.length} bytes)`;
    if (!same(mine.decompress(block, page.length), page)) return "output not readable by walship";
    if (!same(codec.decompress(mine.compress(page), page.length), page)) return "cannot read walship output";
  }
  return "ok";
}

async function benchCodecs(): Promise<void> {
  const codecs: BlockCodec[] = [
    walshipCodec("walship (wasm kernel decoder)", decompressBlockInto),
    walshipCodec("walship, JS decoder only", decompressBlockJs),
  ];
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
      console.log(
        `${codec.name} | ${c.toFixed(0)} | ${d.toFixed(0)} | ${(compressed / total).toFixed(3)} | ${ok}`,
      );
    }
    const scratch = new Uint8Array(compressBlockBound(size));
    const out = new Uint8Array(size);
    const blocks = pages.map((p) => compressBlock(p));
    const ci = bestMbPerSecond(total, () => pages.forEach((p) => compressBlockInto(p, scratch)));
    const di = bestMbPerSecond(total, () => blocks.forEach((b) => decompressBlockInto(b, out)));
    const ki = bestMbPerSecond(total, () => blocks.forEach((b) => kernelDecompress(b, size)));
    const state = { lo: 0, hi: 0 };
    const kc = bestMbPerSecond(total, () =>
      blocks.forEach((b) => {
        kernelCrc(state, kernelOutput(kernelDecompress(b, size)));
      }));
    console.log(`walship, into a reused buffer | ${ci.toFixed(0)} | ${di.toFixed(0)} | |`);
    console.log(`walship kernel alone (output stays in wasm) | | ${ki.toFixed(0)} | |`);
    console.log(`walship kernel decompress + CRC-64 of the output | | ${kc.toFixed(0)} | |`);
  }
}

// --- Compressors: the JS reference against the kernel -------------------------------------------

/** Pages like the snapshot benchmark's database (core.ts makeBigDatabase): 4 rows of 1000 bytes, half random. */
function benchDbPage(size: number): Uint8Array {
  const page = new Uint8Array(size);
  const text = encoder.encode("customer order shipped ".repeat(44).slice(0, 1000));
  for (let at = size - 1000, row = 0; at >= 16; at -= 1000, row++) {
    page.set(row % 2 ? randomPage(1000) : text, at);
  }
  return page;
}

function benchCompressors(): void {
  console.log("\ncompressor (into a reused buffer) | MB/s JS | MB/s kernel | ratio");
  const sets: [string, Uint8Array[]][] = [
    ["4 KiB, rows of half random, half text", Array.from({ length: 16384 }, () => benchDbPage(4096))],
    ["4 KiB, 60% rows, 20% random, 20% mixed", makePages(4096, 16384)],
    ["64 KiB, 60% rows, 20% random, 20% mixed", makePages(65536, 1024)],
  ];
  for (const [name, pages] of sets) {
    const total = pages.reduce((n, p) => n + p.length, 0);
    const scratch = new Uint8Array(compressBlockBound(pages[0]!.length));
    let compressed = 0;
    for (const p of pages) compressed += compressBlockInto(p, scratch);
    const js = bestMbPerSecond(total, () => pages.forEach((p) => compressBlockJs(p, scratch)));
    const kernel = bestMbPerSecond(total, () => pages.forEach((p) => compressBlockInto(p, scratch)));
    console.log(`${name} | ${js.toFixed(0)} | ${kernel.toFixed(0)} | ${(compressed / total).toFixed(3)}`);
  }
}

// --- CRC-64 ------------------------------------------------------------------------------------

function benchCrc(): void {
  console.log("\nCRC-64/ISO | 4 KiB MB/s | 64 KiB MB/s");
  const small = makePages(4096, 16384);
  const large = makePages(65536, 1024);
  const total = 64 * 2 ** 20;
  const row = (name: string, update: (p: Uint8Array) => void) => {
    const a = bestMbPerSecond(total, () => small.forEach(update));
    const b = bestMbPerSecond(total, () => large.forEach(update));
    console.log(`${name} | ${a.toFixed(0)} | ${b.toFixed(0)}`);
  };
  const state = { lo: 0, hi: 0 };
  row("JS slicing-by-16 (_crc_js.ts)", (p) => crcUpdateJs(state, p));
  row("wasm kernel, copying the input in", (p) => kernelCrc(state, p));
  const inKernel = kernelOutput(65536);
  row("wasm kernel on kernel output (no copy)", (p) => kernelCrc(state, inKernel.subarray(0, p.length)));
  const crc = new Crc64();
  row("Crc64.update (what callers get)", (p) => crc.update(p));
}

// --- Restore vs cp -------------------------------------------------------------------------------

/** Reads a file in 1 MiB chunks: `FsFile.readable` uses small chunks and costs about 2× more. */
function fileStream(file: Deno.FsFile): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const buf = new Uint8Array(1 << 20);
      const n = await file.read(buf);
      if (n === null) {
        file.close();
        controller.close();
      } else {
        controller.enqueue(buf.subarray(0, n));
      }
    },
    cancel: () => file.close(),
  });
}

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
      const header = noChecksumHeader({ pageSize, commit, minTxid: 1n, maxTxid: 1n, timestamp: Date.now() });
      const enc = new LtxEncoder((chunk) => writeAll(ltx, chunk), header);
      const pool = makePages(pageSize, 1024);
      for (let pgno = 1; pgno <= commit; pgno++) {
        const data = pgno === lockPgno(pageSize) ? new Uint8Array(pageSize) : pool[pgno % pool.length]!;
        await db.write(data);
        if (pgno !== lockPgno(pageSize)) await enc.encodePage(pgno, data);
      }
      await enc.finish();
    }
    const ltxSize = (await Deno.stat(ltxPath)).size;
    // Flush the setup's dirty pages so that writeback does not land inside a measurement.
    await new Deno.Command("sync").output();
    const cpTimes: number[] = [];
    const restoreTimes: number[] = [];
    for (let round = 0; round < 3; round++) {
      await Deno.remove(`${dir}/copy.db`).catch(() => {});
      await Deno.remove(`${dir}/restored.db`).catch(() => {});
      await new Deno.Command("sync").output();
      let start = performance.now();
      await new Deno.Command("cp", { args: [dbPath, `${dir}/copy.db`] }).output();
      cpTimes.push(performance.now() - start);
      start = performance.now();
      {
        using out = await Deno.open(`${dir}/restored.db`, { write: true, create: true });
        const decoder = new LtxDecoder(fileStream(await Deno.open(ltxPath)), { name: ltxPath });
        const header = await decoder.readHeader();
        // Two batches: one is written (by the runtime's I/O threads) while the next is filled.
        let batch = new Uint8Array(256 * pageSize);
        let spare = new Uint8Array(256 * pageSize);
        let writing: Promise<unknown> = Promise.resolve();
        let used = 0;
        let next = 1;
        const lock = lockPgno(pageSize);
        const flush = async () => {
          await writing;
          writing = out.write(batch.subarray(0, used));
          [batch, spare] = [spare, batch];
          used = 0;
        };
        for (let page = await decoder.readPage(); page !== null; page = await decoder.readPage()) {
          if (next === lock) {
            batch.fill(0, used, used + pageSize);
            used += pageSize;
            next++;
          }
          if (page.pgno !== next++) throw new Error(`restore expected page ${next - 1}, got ${page.pgno}`);
          batch.set(page.data, used);
          used += pageSize;
          if (used >= batch.length - pageSize) await flush();
        }
        await flush();
        await writing;
        await decoder.finish();
        if (next - 1 !== header.commit) throw new Error(`restore stopped at page ${next - 1}`);
      }
      restoreTimes.push(performance.now() - start);
    }
    const cpMs = Math.min(...cpTimes);
    const restoreMs = Math.min(...restoreTimes);
    console.log(
      `\nrestore ${mib} MiB (LTX ${(ltxSize / 2 ** 20).toFixed(0)} MiB), best of 3: ${
        restoreMs.toFixed(0)
      } ms ` +
        `(${(mib * 1.048576 / (restoreMs / 1e3)).toFixed(0)} MB/s); cp of the database: ${
          cpMs.toFixed(0)
        } ms; ` +
        `ratio ${(restoreMs / cpMs).toFixed(2)}×`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const restoreArg = Deno.args.find((a) => a.startsWith("--restore-mib="));
  if (Deno.args.includes("--only-compress")) {
    benchCompressors();
  } else if (!Deno.args.includes("--only-restore")) {
    benchCompressors();
    await benchCodecs();
    benchCrc();
  }
  if (restoreArg !== undefined) await benchRestore(Number(restoreArg.split("=")[1]));
}
