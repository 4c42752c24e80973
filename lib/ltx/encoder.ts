/** Streaming LTX v3 encoder (spec §3.1–§3.5): header, compressed page frames, end marker, index, trailer. */

import { concatBytes } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { CHECKSUM_FLAG, Crc64 } from "./checksum.ts";
import {
  encodeHeader,
  encodeTrailer,
  isSnapshotHeader,
  lockPgno,
  LTX_PAGE_HEADER_SIZE,
  type LtxHeader,
  type LtxTrailer,
  PAGE_FLAG_SIZE,
  trailerProblem,
} from "./header.ts";
import { compressBlockBound, compressBlockInto } from "./lz4_block.ts";
import { compressFrame } from "./lz4_frame.ts";
import { putUvarint } from "./page_index.ts";

export interface LtxEncoderOptions {
  /**
   * How page data is compressed: "block" (flag 1, ltx v0.5.2, Litestream ≥ v0.5.16) or "frame"
   * (flag 0, ltx v0.5.0/v0.5.1, readable by every Litestream v0.5.x).
   * @default "block"
   */
  pageEncoding?: "block" | "frame";
}

type Sink = (chunk: Uint8Array) => Promise<void> | void;

/** Writes one LTX file to `sink` page by page; each chunk handed to the sink is a fresh buffer. */
export class LtxEncoder {
  readonly #sink: Sink;
  readonly #header: LtxHeader;
  readonly #isFrame: boolean;
  readonly #lockPgno: number;
  readonly #crc = new Crc64();
  readonly #scratch: Uint8Array;
  #index = new Uint8Array(1024);
  #indexLength = 0;
  #offset = 0;
  #prevPgno = 0;
  #pageCount = 0;
  #state: "header" | "pages" | "closed" = "header";

  constructor(sink: Sink, header: LtxHeader, options: LtxEncoderOptions = {}) {
    const { pageEncoding = "block" } = options;
    encodeHeader(header);
    this.#sink = sink;
    this.#header = { ...header };
    this.#isFrame = pageEncoding === "frame";
    this.#lockPgno = lockPgno(header.pageSize);
    this.#scratch = new Uint8Array(10 + compressBlockBound(header.pageSize));
  }

  /** Bytes handed to the sink so far. */
  get size(): number {
    return this.#offset;
  }

  /** Compresses and writes one page; pages must come in ascending order (snapshots: 1, 2, … skipping the lock page). */
  async encodePage(pgno: number, data: Uint8Array): Promise<void> {
    if (this.#state === "closed") throw new Error("Cannot encode page: LTX encoder is finished");
    if (this.#state === "header") await this.#writeHeader();
    this.#checkPage(pgno, data);

    const frameStart = this.#offset;
    const scratch = this.#scratch;
    scratch[0] = pgno >>> 24;
    scratch[1] = (pgno >>> 16) & 0xff;
    scratch[2] = (pgno >>> 8) & 0xff;
    scratch[3] = pgno & 0xff;
    scratch[4] = 0;
    let chunk: Uint8Array;
    if (this.#isFrame) {
      scratch[5] = 0;
      const frame = compressFrame(data);
      chunk = new Uint8Array(LTX_PAGE_HEADER_SIZE + frame.length);
      chunk.set(scratch.subarray(0, LTX_PAGE_HEADER_SIZE));
      chunk.set(frame, LTX_PAGE_HEADER_SIZE);
      this.#crc.update(scratch.subarray(0, LTX_PAGE_HEADER_SIZE));
    } else {
      scratch[5] = PAGE_FLAG_SIZE;
      const n = compressBlockInto(data, scratch.subarray(10));
      new DataView(scratch.buffer).setUint32(6, n);
      chunk = scratch.slice(0, 10 + n);
      this.#crc.update(scratch.subarray(0, 10));
    }
    this.#crc.update(data);
    this.#addIndexEntry(pgno, frameStart, chunk.length);
    this.#prevPgno = pgno;
    this.#pageCount++;
    await this.#write(chunk);
  }

  /**
   * Writes the end marker, page index and trailer.
   * @param postApplyChecksum database checksum after applying the file; must be 0 with NoChecksum.
   */
  async finish(postApplyChecksum = 0n): Promise<{ size: number; trailer: LtxTrailer }> {
    if (this.#state === "closed") throw new Error("Cannot finish: LTX encoder is already finished");
    if (this.#state === "header") await this.#writeHeader();
    const header = this.#header;
    if (isSnapshotHeader(header)) {
      const expected = header.commit - (header.commit >= this.#lockPgno ? 1 : 0);
      if (this.#pageCount !== expected) {
        throw new CorruptionError(
          `Cannot finish LTX snapshot: it has ${this.#pageCount} pages but commit ${header.commit} needs ${expected}`,
        );
      }
    }
    this.#state = "closed";

    const tail = new Uint8Array(LTX_PAGE_HEADER_SIZE + this.#indexLength + 1 + 8 + 16);
    let at = LTX_PAGE_HEADER_SIZE;
    tail.set(this.#index.subarray(0, this.#indexLength), at);
    at += this.#indexLength;
    tail[at++] = 0;
    const view = new DataView(tail.buffer);
    view.setBigUint64(at, BigInt(this.#indexLength + 1));
    at += 8;
    view.setBigUint64(at, postApplyChecksum);
    this.#crc.update(tail.subarray(0, at + 8));
    const trailer = { postApplyChecksum, fileChecksum: CHECKSUM_FLAG | this.#crc.digest() };
    const problem = trailerProblem(header, trailer);
    if (problem !== null) throw new CorruptionError(`Cannot finish LTX file: ${problem}`);
    tail.set(encodeTrailer(trailer), at);
    await this.#write(tail);
    return { size: this.#offset, trailer };
  }

  async #writeHeader(): Promise<void> {
    this.#state = "pages";
    const bytes = encodeHeader(this.#header);
    this.#crc.update(bytes);
    await this.#write(bytes);
  }

  async #write(chunk: Uint8Array): Promise<void> {
    this.#offset += chunk.length;
    await this.#sink(chunk);
  }

  #checkPage(pgno: number, data: Uint8Array): void {
    const { commit, pageSize } = this.#header;
    const prev = this.#prevPgno;
    const fail = (detail: string) => new CorruptionError(`Cannot encode LTX page ${pgno}: ${detail}`);
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > 0xffffffff) throw fail("page number required");
    if (pgno > commit) throw fail(`page number out-of-bounds for commit size ${commit}`);
    if (data.length !== pageSize) {
      throw fail(`invalid page buffer size: ${data.length}, expecting ${pageSize}`);
    }
    if (pgno === this.#lockPgno) throw fail("cannot encode lock page");
    if (isSnapshotHeader(this.#header)) {
      if (prev === 0 && pgno !== 1) throw fail("snapshot transaction file must start with page number 1");
      const expected = prev + 1 === this.#lockPgno ? prev + 2 : prev + 1;
      if (prev !== 0 && pgno !== expected) {
        throw fail(`nonsequential page numbers in snapshot transaction: ${prev},${pgno}`);
      }
    } else if (pgno <= prev) {
      throw fail(`out-of-order page numbers: ${prev},${pgno}`);
    }
  }

  #addIndexEntry(pgno: number, offset: number, size: number): void {
    if (this.#indexLength + 30 > this.#index.length) {
      const grown = new Uint8Array(this.#index.length * 2);
      grown.set(this.#index.subarray(0, this.#indexLength));
      this.#index = grown;
    }
    let at = putUvarint(this.#index, this.#indexLength, pgno);
    at = putUvarint(this.#index, at, offset);
    this.#indexLength = putUvarint(this.#index, at, size);
  }
}

/** Encodes a whole LTX file in memory; `pages` must be in the order `LtxEncoder` requires. */
export async function encodeLtx(
  header: LtxHeader,
  pages: Iterable<[number, Uint8Array]>,
  options?: LtxEncoderOptions,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const encoder = new LtxEncoder((chunk) => void chunks.push(chunk), header, options);
  for (const [pgno, data] of pages) await encoder.encodePage(pgno, data);
  await encoder.finish();
  return concatBytes(chunks);
}
