/** LTX page index: `(pgno, offset, size)` uvarint triples, a 0 terminator and a u64 BE length (spec §3.4). */

import { CorruptionError } from "../util/errors.ts";

/** One page index entry: where a page frame starts and how many bytes it spans. */
export interface PageIndexEntry {
  pgno: number;
  /** Absolute offset of the page frame (its 6-byte header) in the file. */
  offset: number;
  /** Bytes of the frame: header, size prefix if any, payload. */
  size: number;
}

/** Appends Go `binary.PutUvarint` bytes of a safe non-negative integer; returns the new position. */
export function putUvarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[at++] = value;
  return at;
}

/**
 * Parses a page index area: the varint triples and their 0 terminator, optionally followed by the
 * u64 BE length field. Readers find it from the end of a file: it starts `16 + 8 + length` bytes
 * before the end (spec §3.4).
 * @throws CorruptionError when the varints are malformed or the length field disagrees.
 */
export function decodePageIndex(bytes: Uint8Array, name = "LTX file"): PageIndexEntry[] {
  const fail = (detail: string) => new CorruptionError(`Corrupt page index in "${name}": ${detail}`);
  let at = 0;
  const next = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (at >= bytes.length) throw fail("truncated varint");
      const b = bytes[at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
    }
    throw fail("varint too large");
  };
  const entries: PageIndexEntry[] = [];
  for (;;) {
    const pgno = next();
    if (pgno === 0) break;
    const entry = { pgno, offset: next(), size: next() };
    if (entries.length > 0 && pgno <= entries[entries.length - 1]!.pgno) {
      throw fail("page numbers out of order");
    }
    entries.push(entry);
  }
  if (at === bytes.length) return entries;
  if (bytes.length - at !== 8) throw fail(`${bytes.length - at} unexpected bytes after the terminator`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigUint64(0);
  if (declared !== BigInt(at)) throw fail(`length field says ${declared} bytes but the index has ${at}`);
  return entries;
}
