/**
 * Streaming check of the LTX page index against the page frames actually read, in O(1) memory: both
 * sides are reduced to a CRC of their canonical varint encoding plus an entry count. Private to lib/ltx.
 */

import type { CorruptionError } from "../util/errors.ts";
import type { ByteReader } from "./_byte_reader.ts";
import { Crc64 } from "./checksum.ts";
import { putUvarint } from "./page_index.ts";

/** Order-sensitive digest of `(pgno, offset, size)` entries. */
export class IndexDigest {
  readonly #crc = new Crc64();
  readonly #entry = new Uint8Array(30);
  count = 0;

  add(pgno: number, offset: number, size: number): void {
    let at = putUvarint(this.#entry, 0, pgno);
    at = putUvarint(this.#entry, at, offset);
    at = putUvarint(this.#entry, at, size);
    this.#crc.update(this.#entry.subarray(0, at));
    this.count++;
  }

  equals(other: IndexDigest): boolean {
    return this.count === other.count && this.#crc.digest() === other.#crc.digest();
  }
}

/**
 * Reads the varint triples and their 0 terminator, feeding the raw bytes to `fileCrc`.
 * @returns the area length in bytes (terminator included) and the digest of its entries.
 */
export async function readIndexArea(
  input: ByteReader,
  fileCrc: Crc64,
  fail: (detail: string) => CorruptionError,
): Promise<{ length: number; digest: IndexDigest }> {
  const raw = new Uint8Array(4096);
  let rawLength = 0;
  let length = 0;
  let prevPgno = 0;
  const digest = new IndexDigest();
  const readVarint = async (what: string): Promise<number> => {
    let value = 0;
    let scale = 1;
    for (let i = 0;; i++) {
      if (!input.has(1) && !(await input.fill(1))) {
        throw fail(`truncated at byte ${input.offset} while reading the page index ${what}`);
      }
      const b = input.takeByte();
      raw[rawLength++] = b;
      length++;
      if (rawLength === raw.length) {
        fileCrc.update(raw);
        rawLength = 0;
      }
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
      if (i >= 7) throw fail(`page index ${what} is too large`);
    }
  };
  for (;;) {
    const pgno = await readVarint("page number");
    if (pgno === 0) break;
    const offset = await readVarint("offset");
    const size = await readVarint("size");
    if (pgno <= prevPgno || pgno > 0xffffffff) throw fail(`page index entry ${digest.count} is out of order`);
    prevPgno = pgno;
    digest.add(pgno, offset, size);
  }
  fileCrc.update(raw.subarray(0, rawLength));
  return { length, digest };
}
