/** Helpers shared by the lib/ltx tests (never imported by production code). */

import { concatBytes } from "../util/bytes.ts";
import { type LtxHeader, noChecksumHeader } from "./header.ts";

/** Reads a file of tests/fixtures/. */
export function fixture(path: string): Uint8Array {
  return Deno.readFileSync(new URL(`../../tests/fixtures/${path}`, import.meta.url));
}

/** The .ltx files of a fixture folder, sorted by name. */
export function fixtureLtxNames(folder: string): string[] {
  const dir = new URL(`../../tests/fixtures/${folder}/`, import.meta.url);
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".ltx")).sort();
}

/** A Litestream-style header (NoChecksum, no WAL fields) with overrides. */
export function makeHeader(overrides: Partial<LtxHeader> = {}): LtxHeader {
  return noChecksumHeader(
    { pageSize: 512, commit: 4, minTxid: 1n, maxTxid: 1n, timestamp: 1700000000000 },
    overrides,
  );
}

/** A page filled with `byte(seed + i % 7)`, as in the fixtures. */
export function patternPage(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (seed + i % 7) & 0xff);
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function randomBytes(size: number, seed = 0x12345678): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed | 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** SQLite-ish text: repetitive records with varying numbers. */
export function textBytes(size: number, seed = 1): Uint8Array {
  const parts: string[] = [];
  let n = seed;
  let length = 0;
  while (length < size) {
    n = (n * 1103515245 + 12345) >>> 0;
    const part = `row ${n % 100000}|name-${n % 97}|status=${n % 3 === 0 ? "paid" : "open"};`;
    parts.push(part);
    length += part.length;
  }
  return new TextEncoder().encode(parts.join("")).subarray(0, size);
}

/** A stream that hands out `bytes` in chunks of `chunkSize` bytes. */
export function streamOf(bytes: Uint8Array, chunkSize = bytes.length || 1): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) chunks.push(bytes.slice(at, at + chunkSize));
  return ReadableStream.from(chunks);
}

/** Collects sink chunks (copies: an encoder lends its chunks only for the call). */
export function collector(): { sink: (chunk: Uint8Array) => void; bytes: () => Uint8Array } {
  const chunks: Uint8Array[] = [];
  return { sink: (chunk) => void chunks.push(chunk.slice()), bytes: () => concatBytes(chunks) };
}

/** Hex dump helper: "0a0b…" to bytes. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}
