/** Streaming LTX v3 encoder (spec §3.1–§3.5): header, compressed page frames, end marker, index, trailer. */

import { concatBytes } from "../util/bytes.ts";
import { partBuffers } from "../util/buffer_pool.ts";
import { CorruptionError } from "../util/errors.ts";
import { CHECKSUM_FLAG, Crc64 } from "./checksum.ts";
import type { CrcState } from "./_kernels.ts";
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

/**
 * Receives the file in order. A chunk is lent: it stays valid until the sink returns or, when it returns
 * a promise, until that promise settles; a sink that keeps bytes longer must copy them. The encoder
 * never calls the sink again before its previous call settled.
 */
export type LtxSink = (chunk: Uint8Array) => Promise<void> | void;

/** Frames are gathered into batches of about this size: one buffer and one sink call per batch, not per page. */
const BATCH_BYTES = 256 * 1024;
/**
 * Batch buffers wait here between files: a replicator encodes a file per second, and fresh ones outlive
 * a few scavenges, so dropped they would pile up in the old generation until a full GC.
 */
const batchBuffers = () => partBuffers(BATCH_BYTES, 4);

/**
 * Writes one LTX file to `sink`. Page frames are gathered into batches, so the sink sees a chunk per
 * batch (and the header, index and trailer) rather than per page. Two batch buffers take turns: one is
 * with the sink while the next fills, so writing overlaps compressing and nothing is allocated per batch.
 */
export class LtxEncoder {
  readonly #sink: LtxSink;
  readonly #header: LtxHeader;
  readonly #isFrame: boolean;
  readonly #lockPgno: number;
  readonly #crc = new Crc64();
  /** Room one page frame may need: page header plus the LZ4 bound (frame mode: a stored 64 KiB block each). */
  readonly #frameRoom: number;
  #batch: Uint8Array;
  #batchView: DataView;
  #batchLength = 0;
  /** The other batch buffer, free once the sink's call that had it settled. */
  #spare: Uint8Array | undefined;
  /** The sink's last call, settled before the next (see #flush). */
  #sinkDone: Promise<void> = Promise.resolve();
  #index = new Uint8Array(1024);
  #indexLength = 0;
  #offset = 0;
  #prevPgno = 0;
  #pageCount = 0;
  #state: "header" | "pages" | "closed" = "header";

  constructor(sink: LtxSink, header: LtxHeader, options: LtxEncoderOptions = {}) {
    const { pageEncoding = "block" } = options;
    encodeHeader(header);
    this.#sink = sink;
    this.#header = { ...header };
    this.#isFrame = pageEncoding === "frame";
    this.#lockPgno = lockPgno(header.pageSize);
    this.#frameRoom = this.#isFrame
      ? LTX_PAGE_HEADER_SIZE + 15 + Math.ceil(header.pageSize / 65536) * (4 + 65536)
      : 10 + compressBlockBound(header.pageSize);
    this.#batch = this.#newBatch();
    this.#batchView = new DataView(this.#batch.buffer);
  }

  /** Bytes of the file so far (the newest may still wait in the batch for the sink). */
  get size(): number {
    return this.#offset;
  }

  /**
   * Compresses and writes one page; pages must come in ascending order (snapshots: 1, 2, … skipping the
   * lock page). `block`, the page already LZ4-block-compressed (from a decoder that checked it
   * decompresses to `data`), is written as it is in block mode: a merge does not compress again. `crc`,
   * the CRC-64 of `data` from that decoder, saves hashing the page a second time.
   */
  async encodePage(pgno: number, data: Uint8Array, block?: Uint8Array, crc?: CrcState): Promise<void> {
    if (this.#state === "closed") throw new Error("Cannot encode page: LTX encoder is finished");
    if (this.#state === "header") this.#writeHeader();
    this.#checkPage(pgno, data);
    // `data` may be a view that is only valid until the caller's next page; it is used before any await.
    if (this.#batchLength + this.#frameRoom > this.#batch.length) await this.#flush();

    const at = this.#batchLength;
    const batch = this.#batch;
    this.#batchView.setUint32(at, pgno);
    batch[at + 4] = 0;
    let length: number;
    if (this.#isFrame) {
      batch[at + 5] = 0;
      const frame = compressFrame(data);
      batch.set(frame, at + LTX_PAGE_HEADER_SIZE);
      length = LTX_PAGE_HEADER_SIZE + frame.length;
      this.#crc.update(batch.subarray(at, at + LTX_PAGE_HEADER_SIZE));
    } else {
      batch[at + 5] = PAGE_FLAG_SIZE;
      let n: number;
      if (block !== undefined && block.length <= this.#frameRoom - 10) {
        batch.set(block, at + 10);
        n = block.length;
      } else {
        n = compressBlockInto(data, batch.subarray(at + 10, at + this.#frameRoom));
      }
      this.#batchView.setUint32(at + 6, n);
      length = 10 + n;
      this.#crc.update(batch.subarray(at, at + 10));
    }
    if (crc !== undefined) this.#crc.append(crc, data.length);
    else this.#crc.update(data);
    this.#addIndexEntry(pgno, this.#offset, length);
    this.#batchLength += length;
    this.#offset += length;
    this.#prevPgno = pgno;
    this.#pageCount++;
  }

  /**
   * Writes the end marker, page index and trailer.
   * @param postApplyChecksum database checksum after applying the file; must be 0 with NoChecksum.
   */
  async finish(postApplyChecksum = 0n): Promise<{ size: number; trailer: LtxTrailer }> {
    if (this.#state === "closed") throw new Error("Cannot finish: LTX encoder is already finished");
    if (this.#state === "header") this.#writeHeader();
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
    this.#offset += tail.length;
    if (this.#batchLength + tail.length <= this.#batch.length) {
      this.#batch.set(tail, this.#batchLength);
      this.#batchLength += tail.length;
      await this.#flush(false);
    } else {
      await this.#flush(false);
      await this.#send(tail);
    }
    await this.#sinkDone;
    // Both buffers are back from the sink, and this encoder writes no more.
    for (const buffer of [this.#batch, this.#spare]) if (buffer) batchBuffers().give(buffer);
    return { size: this.#offset, trailer };
  }

  #newBatch(): Uint8Array {
    return this.#frameRoom <= BATCH_BYTES ? batchBuffers().take() : new Uint8Array(this.#frameRoom);
  }

  #writeHeader(): void {
    this.#state = "pages";
    const bytes = encodeHeader(this.#header);
    this.#crc.update(bytes);
    this.#batch.set(bytes);
    this.#batchLength = bytes.length;
    this.#offset = bytes.length;
  }

  /**
   * Lends the batch to the sink and, unless it is the last, fills the other buffer next. The sink's
   * promise is awaited only before its next call, so its I/O overlaps compressing the next batch; the
   * buffer it had is refilled only after that.
   */
  async #flush(more = true): Promise<void> {
    if (this.#batchLength === 0) return;
    const chunk = this.#batch.subarray(0, this.#batchLength);
    this.#batchLength = 0;
    await this.#send(chunk);
    if (more) {
      const next = this.#spare ?? this.#newBatch();
      this.#spare = this.#batch;
      this.#batch = next;
      this.#batchView = new DataView(next.buffer);
    }
  }

  /** Calls the sink once its previous call settled, without waiting for this one (see #flush). */
  async #send(chunk: Uint8Array): Promise<void> {
    await this.#sinkDone;
    const done = Promise.resolve(this.#sink(chunk));
    // Handled when awaited; until then a failure must not count as unhandled.
    done.catch(() => {});
    this.#sinkDone = done;
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
  const encoder = new LtxEncoder((chunk) => void chunks.push(chunk.slice()), header, options);
  for (const [pgno, data] of pages) await encoder.encodePage(pgno, data);
  await encoder.finish();
  return concatBytes(chunks);
}
