/**
 * Streaming LTX v3 decoder (spec §3). Reads page by page from a stream with memory bounded by a few
 * pages, and verifies everything Go's decoder does plus page order, snapshot completeness and the page
 * index (checked against the frames actually read, through a CRC of both, so it needs O(1) memory).
 */

import { CorruptionError } from "../util/errors.ts";
import { ByteReader } from "./_byte_reader.ts";
import { CHECKSUM_FLAG, Crc64, pageChecksum } from "./checksum.ts";
import {
  decodeHeader,
  decodeTrailer,
  HEADER_FLAG_NO_CHECKSUM,
  isSnapshotHeader,
  LTX_HEADER_SIZE,
  LTX_PAGE_HEADER_SIZE,
  LTX_TRAILER_SIZE,
  lockPgno,
  type LtxHeader,
  type LtxTrailer,
  PAGE_FLAG_SIZE,
} from "./header.ts";
import { decompressBlockInto } from "./lz4_block.ts";
import { readLz4FramePage } from "./_frame_page.ts";
import { putUvarint } from "./page_index.ts";

/** One decoded page. */
export interface LtxPage {
  pgno: number;
  data: Uint8Array;
}

export interface LtxDecoderOptions {
  /** Name used in error messages, such as the file's path or key. @default "LTX file" */
  name?: string;
}

/** Decodes one LTX file: `readHeader()`, then `readPage()` until null, then `finish()`. */
export class LtxDecoder {
  readonly #in: ByteReader;
  readonly #name: string;
  readonly #crc = new Crc64();
  readonly #expectedIndex = new Crc64();
  readonly #entry = new Uint8Array(30);
  #header: LtxHeader | null = null;
  #lockPgno = 0;
  #prevPgno = 0;
  #pageCount = 0;
  #dbChecksum: bigint | null = null;
  #state: "header" | "pages" | "index" | "done" = "header";

  constructor(stream: ReadableStream<Uint8Array>, options: LtxDecoderOptions = {}) {
    this.#in = new ByteReader(stream);
    this.#name = options.name ?? "LTX file";
  }

  /** The header, once `readHeader()` has returned. */
  get header(): LtxHeader {
    if (this.#header === null) throw new Error("Cannot get LTX header: readHeader() was not called");
    return this.#header;
  }

  /** Reads and validates the 100-byte header. */
  async readHeader(): Promise<LtxHeader> {
    if (this.#state !== "header") throw new Error("Cannot read LTX header twice");
    const bytes = await this.#read(LTX_HEADER_SIZE, "header");
    const header = decodeHeader(bytes, this.#name);
    this.#crc.update(bytes);
    this.#header = header;
    this.#lockPgno = lockPgno(header.pageSize);
    if (isSnapshotHeader(header) && (header.flags & HEADER_FLAG_NO_CHECKSUM) === 0) this.#dbChecksum = 0n;
    this.#state = "pages";
    return header;
  }

  /** Reads the next page, or returns null once the end marker has been read. */
  async readPage(): Promise<LtxPage | null> {
    if (this.#state === "header") await this.readHeader();
    if (this.#state !== "pages") return null;
    const header = this.#header!;
    const frameStart = this.#in.offset;
    const pageHeader = await this.#read(LTX_PAGE_HEADER_SIZE, "page header");
    const pgno = ((pageHeader[0]! << 24) | (pageHeader[1]! << 16) | (pageHeader[2]! << 8) | pageHeader[3]!) >>> 0;
    const flags = (pageHeader[4]! << 8) | pageHeader[5]!;
    this.#crc.update(pageHeader);
    if (pgno === 0) {
      if (flags !== 0) throw this.#corrupt(`end marker has flags 0x${flags.toString(16)}`);
      this.#state = "index";
      return null;
    }
    if ((flags & ~PAGE_FLAG_SIZE) !== 0) throw this.#corrupt(`page ${pgno} has invalid flags 0x${flags.toString(16)}`);
    this.#checkOrder(pgno, header);

    const data = new Uint8Array(header.pageSize);
    let n: number;
    try {
      if (flags & PAGE_FLAG_SIZE) {
        const sizeBytes = await this.#read(4, `page ${pgno} size`);
        this.#crc.update(sizeBytes);
        const size = ((sizeBytes[0]! << 24) | (sizeBytes[1]! << 16) | (sizeBytes[2]! << 8) | sizeBytes[3]!) >>> 0;
        n = decompressBlockInto(await this.#read(size, `page ${pgno} data`), data);
      } else {
        n = await readLz4FramePage(this.#in, data);
      }
    } catch (err) {
      if (err instanceof CorruptionError && !err.message.startsWith("Corrupt LTX file")) {
        throw this.#corrupt(`page ${pgno} does not decompress`, err);
      }
      throw err;
    }
    if (n !== header.pageSize) throw this.#corrupt(`page ${pgno} decompresses to ${n} bytes, not ${header.pageSize}`);
    this.#crc.update(data);
    if (this.#dbChecksum !== null) this.#dbChecksum ^= pageChecksum(pgno, data);

    let at = putUvarint(this.#entry, 0, pgno);
    at = putUvarint(this.#entry, at, frameStart);
    at = putUvarint(this.#entry, at, this.#in.offset - frameStart);
    this.#expectedIndex.update(this.#entry.subarray(0, at));
    this.#prevPgno = pgno;
    this.#pageCount++;
    return { pgno, data };
  }

  /** Reads the rest of the file (any unread pages, index, trailer) and verifies every checksum. */
  async finish(): Promise<LtxTrailer> {
    if (this.#state === "header") await this.readHeader();
    while (this.#state === "pages") await this.readPage();
    if (this.#state !== "index") throw new Error("Cannot finish LTX decoder twice");
    this.#state = "done";
    const header = this.#header!;

    const indexLength = await this.#readIndex();
    const sizeBytes = await this.#read(8, "page index size");
    this.#crc.update(sizeBytes);
    const declared = new DataView(sizeBytes.buffer, sizeBytes.byteOffset, 8).getBigUint64(0);
    if (declared !== BigInt(indexLength)) {
      throw this.#corrupt(`page index size field says ${declared} bytes but the index has ${indexLength}`);
    }
    const trailerBytes = await this.#read(LTX_TRAILER_SIZE, "trailer");
    const trailer = decodeTrailer(trailerBytes);
    this.#crc.update(trailerBytes.subarray(0, 8));
    if (!(await this.#in.isAtEnd())) throw this.#corrupt("unexpected bytes after the trailer");
    if (trailer.fileChecksum !== (CHECKSUM_FLAG | this.#crc.digest())) throw this.#corrupt("file checksum mismatch");

    if (isSnapshotHeader(header)) {
      const expected = header.commit - (header.commit >= this.#lockPgno ? 1 : 0);
      if (this.#pageCount !== expected) {
        throw this.#corrupt(`snapshot has ${this.#pageCount} pages but commit ${header.commit} needs ${expected}`);
      }
    }
    if (this.#dbChecksum !== null && (CHECKSUM_FLAG | this.#dbChecksum) !== trailer.postApplyChecksum) {
      throw this.#corrupt("database checksum of the snapshot does not match its post-apply checksum");
    }
    return trailer;
  }

  /** Releases the stream without reading the rest. */
  async cancel(): Promise<void> {
    this.#state = "done";
    await this.#in.cancel();
  }

  /** Reads the varint index, hashing it into the file CRC; returns its length including the terminator. */
  async #readIndex(): Promise<number> {
    const raw = new Uint8Array(4096);
    let rawLength = 0;
    let length = 0;
    let count = 0;
    let prevPgno = 0;
    const actual = new Crc64();
    const readVarint = async (what: string): Promise<number> => {
      let value = 0;
      let scale = 1;
      for (let i = 0;; i++) {
        if (!this.#in.has(1) && !(await this.#in.fill(1))) throw this.#truncated(what);
        const b = this.#in.takeByte();
        raw[rawLength++] = b;
        length++;
        if (rawLength === raw.length) {
          this.#crc.update(raw);
          rawLength = 0;
        }
        value += (b & 0x7f) * scale;
        if (b < 0x80) break;
        scale *= 0x80;
        if (i >= 7) throw this.#corrupt(`page index ${what} is too large`);
      }
      return value;
    };
    for (;;) {
      const pgno = await readVarint("page number");
      if (pgno === 0) break;
      const offset = await readVarint("offset");
      const size = await readVarint("size");
      if (pgno <= prevPgno || pgno > 0xffffffff) throw this.#corrupt(`page index entry ${count} is out of order`);
      prevPgno = pgno;
      let at = putUvarint(this.#entry, 0, pgno);
      at = putUvarint(this.#entry, at, offset);
      at = putUvarint(this.#entry, at, size);
      actual.update(this.#entry.subarray(0, at));
      count++;
    }
    this.#crc.update(raw.subarray(0, rawLength));
    if (count !== this.#pageCount || actual.digest() !== this.#expectedIndex.digest()) {
      throw this.#corrupt(`page index (${count} entries) does not match the ${this.#pageCount} page frames`);
    }
    return length;
  }

  #checkOrder(pgno: number, header: LtxHeader): void {
    const prev = this.#prevPgno;
    if (pgno > header.commit) throw this.#corrupt(`page ${pgno} is beyond commit ${header.commit}`);
    if (pgno === this.#lockPgno) throw this.#corrupt(`page ${pgno} is the lock page`);
    if (pgno <= prev) throw this.#corrupt(`page ${pgno} follows page ${prev}`);
    if (isSnapshotHeader(header)) {
      const expected = prev + 1 === this.#lockPgno ? prev + 2 : prev + 1;
      if (pgno !== expected) throw this.#corrupt(`snapshot page ${pgno} follows page ${prev}`);
    }
  }

  async #read(n: number, what: string): Promise<Uint8Array> {
    const bytes = await this.#in.read(n);
    if (bytes === null) throw this.#truncated(what);
    return bytes;
  }

  #truncated(what: string): CorruptionError {
    return this.#corrupt(`truncated at byte ${this.#in.offset} while reading the ${what}`);
  }

  #corrupt(detail: string, cause?: unknown): CorruptionError {
    return new CorruptionError(`Corrupt LTX file "${this.#name}": ${detail}`, cause === undefined ? {} : { cause });
  }
}

/** Decodes and verifies a whole in-memory LTX file. */
export async function decodeLtx(
  bytes: Uint8Array,
  name?: string,
): Promise<{ header: LtxHeader; pages: LtxPage[]; trailer: LtxTrailer }> {
  const decoder = new LtxDecoder(ReadableStream.from([bytes]), name === undefined ? {} : { name });
  const header = await decoder.readHeader();
  const pages: LtxPage[] = [];
  for (let page = await decoder.readPage(); page !== null; page = await decoder.readPage()) pages.push(page);
  const trailer = await decoder.finish();
  return { header, pages, trailer };
}

