/**
 * Streaming LTX v3 decoder (spec §3). Reads page by page from a stream with memory bounded by a few
 * pages, and verifies everything Go's decoder does plus page order, snapshot completeness and the page
 * index (checked against the frames actually read, through a CRC of both, so it needs O(1) memory).
 */

import { readU32, writeU32 } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import { ByteReader } from "./_byte_reader.ts";
import { CHECKSUM_FLAG, Crc64, crcOf, pageChecksumOf } from "./checksum.ts";
import type { CrcState } from "./_kernels.ts";
import {
  decodeHeader,
  decodeTrailer,
  HEADER_FLAG_NO_CHECKSUM,
  isSnapshotHeader,
  lockPgno,
  LTX_HEADER_SIZE,
  LTX_PAGE_HEADER_SIZE,
  LTX_TRAILER_SIZE,
  type LtxHeader,
  type LtxTrailer,
  PAGE_FLAG_SIZE,
} from "./header.ts";
import { readLz4FramePage } from "./_frame_page.ts";
import { compressBlockBound } from "./lz4_block.ts";
import { kernelBuffer } from "./_kernels.ts";
import { IndexDigest, readIndexArea } from "./_index_reader.ts";
import { type BatchResult, decompressPage, FRAME_BLOCK, FRAME_RAW, type PageBatch } from "./page_batch.ts";

const SLAB_SIZE = 256 * 1024;

/** One decoded page; `data` may be a view into a larger buffer shared with other pages. */
export interface LtxPage {
  pgno: number;
  data: Uint8Array;
  /**
   * With `reuseBlocks`, a block-encoded page's compressed bytes as stored: a view into the decoder's
   * input, valid only until its next read. Such a page's `data` is the decompressor's scratch output,
   * checked but not kept: only its length may be used.
   */
  block?: Uint8Array;
  /** The CRC-64 of `data` as the decoder computed it (not on transient pages), so an encoder need not hash it again. */
  crc?: CrcState;
}

export interface LtxDecoderOptions {
  /** Name used in error messages, such as the file's path or key. @default "LTX file" */
  name?: string;
  /**
   * readPage() returns each block-encoded page's compressed bytes instead of its data, for a merge that
   * writes them out again rather than compressing the page anew. Keeping the data too cost a page of fresh
   * memory per page merged. A block larger than an encoder may store (beyond the LZ4 bound) comes with
   * its data instead, for the encoder to compress again.
   */
  reuseBlocks?: boolean;
}

/** Decodes one LTX file: `readHeader()`, then `readPage()` until null, then `finish()`. */
export class LtxDecoder {
  readonly #in: ByteReader;
  readonly #name: string;
  readonly #reuseBlocks: boolean;
  readonly #crc = new Crc64();
  readonly #expectedIndex = new IndexDigest();
  #header: LtxHeader | null = null;
  #lockPgno = 0;
  #prevPgno = 0;
  #pageCount = 0;
  /** XOR of the page checksums as u32 halves, kept for snapshots only (their trailer states it). */
  #dbChecksum: CrcState | null = null;
  #state: "header" | "pages" | "index" | "done" = "header";
  #slab = new ArrayBuffer(0);
  #slabUsed = 0;
  #scratch = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>, options: LtxDecoderOptions = {}) {
    this.#in = new ByteReader(stream);
    this.#name = options.name ?? "LTX file";
    this.#reuseBlocks = options.reuseBlocks ?? false;
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
    if (isSnapshotHeader(header) && (header.flags & HEADER_FLAG_NO_CHECKSUM) === 0) {
      this.#dbChecksum = { lo: 0, hi: 0 };
    }
    this.#state = "pages";
    return header;
  }

  /** Reads the next page, or returns null once the end marker has been read. */
  async readPage(): Promise<LtxPage | null> {
    if (this.#state === "header") await this.readHeader();
    if (this.#state !== "pages") return null;
    return this.#readBufferedPage(false) ?? await this.#readPageSlowly();
  }

  /**
   * Reads every remaining page, handing each to `visit`. `data` is valid only until `visit` returns
   * (it may be the decompressor's own output, not a copy): copy it before any await. This is the
   * fast way through a file: no allocation and no copy per page.
   */
  async forEachPage(visit: (pgno: number, data: Uint8Array) => void | Promise<void>): Promise<void> {
    if (this.#state === "header") await this.readHeader();
    while (this.#state === "pages") {
      let page: LtxPage | null | undefined = this.#readBufferedPage(true);
      while (page) {
        const waiting = visit(page.pgno, page.data);
        if (waiting) await waiting;
        page = this.#readBufferedPage(true);
      }
      page = await this.#readPageSlowly();
      if (page) {
        const waiting = visit(page.pgno, page.data);
        if (waiting) await waiting;
      }
    }
  }

  /**
   * Reads every remaining page frame and hands the frames, not yet decompressed, in batches of about
   * `batchBytes` to `decode` (which may run elsewhere, such as in a Worker), with up to `inFlight`
   * batches out at once. Frames are checked here as readPage() checks them; the page CRCs `decode`
   * returns are folded into the file and database checksums in file order, so finish() verifies
   * everything as usual. A batch's `bytes` come from `allocate` and belong to `decode` (it may transfer
   * them); its `frames` must stay readable until the result settles.
   */
  async forEachBatch(
    decode: (batch: PageBatch) => Promise<BatchResult>,
    { batchBytes = 1 << 20, inFlight = 4, allocate = (size: number) => new Uint8Array(size) }: {
      batchBytes?: number;
      inFlight?: number;
      allocate?: (size: number) => Uint8Array;
    } = {},
  ): Promise<void> {
    if (this.#state === "header") await this.readHeader();
    const pageSize = this.#header!.pageSize;
    const out: { batch: PageBatch; result: Promise<BatchResult> }[] = [];
    const newBatch = (): PageBatch => ({
      pageSize,
      frames: new Uint32Array(MAX_BATCH_FRAMES * 4),
      count: 0,
      bytes: allocate(batchBytes),
    });
    let batch = newBatch();
    let used = 0;
    const send = () => {
      const result = decode({ ...batch, bytes: batch.bytes.subarray(0, used) });
      result.catch(() => {}); // folded in order below, or abandoned with the decoder's own error
      out.push({ batch, result });
      batch = newBatch();
      used = 0;
    };
    const add = (pgno: number, kind: number, payload: Uint8Array, frameStart: number) => {
      if (batch.count === MAX_BATCH_FRAMES || used + payload.length > batch.bytes.length) {
        if (batch.count > 0) send();
        if (payload.length > batch.bytes.length) batch.bytes = allocate(payload.length);
      }
      batch.bytes.set(payload, used);
      const at = batch.count * 4;
      batch.frames[at] = pgno;
      batch.frames[at + 1] = kind;
      batch.frames[at + 2] = used;
      batch.frames[at + 3] = payload.length;
      batch.count++;
      used += payload.length;
      this.#countPage(pgno, frameStart);
    };
    const input = this.#in;
    for (;;) {
      while (out.length >= inFlight) await this.#fold(out.shift()!);
      // Fast path, no await: whole block frames already buffered.
      for (let frame = this.#takeBufferedBlock(); frame; frame = this.#takeBufferedBlock()) {
        add(frame.pgno, FRAME_BLOCK, frame.block, frame.frameStart);
        if (out.length >= inFlight) break;
      }
      if (out.length >= inFlight) continue;
      const frameStart = input.offset;
      const head = await this.#read(LTX_PAGE_HEADER_SIZE, "page header");
      const pgno = readU32(head, 0);
      const flags = (head[4]! << 8) | head[5]!;
      if (pgno === 0 && flags === 0) break;
      this.#checkPage(pgno, flags);
      if (flags & PAGE_FLAG_SIZE) {
        const size = readU32(await this.#read(4, `page ${pgno} size`), 0);
        add(pgno, FRAME_BLOCK, await this.#read(size, `page ${pgno} data`), frameStart);
      } else {
        add(pgno, FRAME_RAW, await this.#readFramePage(pgno), frameStart);
      }
    }
    if (batch.count > 0) send();
    while (out.length > 0) await this.#fold(out.shift()!);
    this.#crc.update(END_MARKER);
    this.#state = "index";
  }

  /** Folds a decoded batch into the checksums: each frame's header bytes, then its page's CRC. */
  async #fold({ batch, result }: { batch: PageBatch; result: Promise<BatchResult> }): Promise<void> {
    const done = await result;
    const { frames, pageSize } = batch;
    if ("badFrame" in done) throw this.#corrupt(`page ${frames[done.badFrame * 4]} ${done.reason}`);
    const head = new Uint8Array(10);
    const pageCrc = { lo: 0, hi: 0 };
    for (let i = 0; i < batch.count; i++) {
      const pgno = frames[i * 4]!;
      const isBlock = frames[i * 4 + 1] === FRAME_BLOCK;
      const size = frames[i * 4 + 3]!;
      writeU32(head, 0, pgno);
      head[5] = isBlock ? PAGE_FLAG_SIZE : 0;
      writeU32(head, 6, size);
      this.#crc.update(head.subarray(0, isBlock ? 10 : LTX_PAGE_HEADER_SIZE));
      pageCrc.lo = done.crcs[i * 2]!;
      pageCrc.hi = done.crcs[i * 2 + 1]!;
      this.#hashPage(pgno, pageCrc, pageSize);
    }
  }

  /** An LZ4-frame page (flags 0), decoded here: such files predate block pages and are small. */
  async #readFramePage(pgno: number): Promise<Uint8Array> {
    const data = this.#allocatePage();
    let n: number;
    try {
      n = await readLz4FramePage(this.#in, data);
    } catch (err) {
      if (err instanceof CorruptionError && !err.message.startsWith("Corrupt LTX file")) {
        throw this.#corrupt(`page ${pgno} does not decompress`, err);
      }
      throw err;
    }
    this.#checkSize(pgno, n);
    return data;
  }

  /** Decodes a block-encoded page frame that is already buffered, without awaiting; else undefined. */
  #readBufferedPage(transient: boolean): LtxPage | undefined {
    const frame = this.#takeBufferedBlock();
    if (!frame) return undefined;
    this.#crc.update(frame.head);
    return this.#decodeBlockPage(frame.pgno, frame.frameStart, frame.block, transient);
  }

  /**
   * Takes a block-encoded page frame (checked) when all of it is already buffered, else undefined.
   * `head` (its 10 header bytes) and `block` are views valid until the next read.
   */
  #takeBufferedBlock():
    | { pgno: number; frameStart: number; head: Uint8Array; block: Uint8Array }
    | undefined {
    const input = this.#in;
    if (!input.has(10)) return undefined;
    const peeked = input.peek(10);
    const size = readU32(peeked, 6);
    if (peeked[4] !== 0 || peeked[5] !== PAGE_FLAG_SIZE || !input.has(10 + size)) return undefined;
    const frameStart = input.offset;
    const pgno = readU32(peeked, 0);
    this.#checkPage(pgno, PAGE_FLAG_SIZE);
    const head = input.take(10);
    return { pgno, frameStart, head, block: input.take(size) };
  }

  async #readPageSlowly(): Promise<LtxPage | null> {
    const frameStart = this.#in.offset;
    const pageHeader = await this.#read(LTX_PAGE_HEADER_SIZE, "page header");
    const pgno = readU32(pageHeader, 0);
    const flags = (pageHeader[4]! << 8) | pageHeader[5]!;
    this.#crc.update(pageHeader);
    if (pgno === 0 && flags === 0) {
      this.#state = "index";
      return null;
    }
    this.#checkPage(pgno, flags);
    if (flags & PAGE_FLAG_SIZE) {
      const sizeBytes = await this.#read(4, `page ${pgno} size`);
      this.#crc.update(sizeBytes);
      return this.#decodeBlockPage(
        pgno,
        frameStart,
        await this.#read(readU32(sizeBytes, 0), `page ${pgno} data`),
        false,
      );
    }
    return this.#acceptPage(pgno, frameStart, await this.#readFramePage(pgno));
  }

  /**
   * Decompresses a block page, hashing its output where it lies. A transient page, or one whose block is
   * reused, may be the kernel's output itself, valid until the next kernel call; otherwise a copy in the
   * slab.
   */
  #decodeBlockPage(pgno: number, frameStart: number, block: Uint8Array, transient: boolean): LtxPage {
    const { pageSize } = this.#header!;
    const reused = this.#reuseBlocks && block.length <= compressBlockBound(pageSize);
    const page = decompressPage(block, pageSize, () => reused ? this.#scratchPage() : this.#allocatePage());
    if (typeof page === "string") throw this.#corrupt(`page ${pgno} ${page}`);
    const crc = this.#acceptPage(pgno, frameStart, page).crc!;
    if (transient) return { pgno, data: page };
    if (reused) return { pgno, data: page, block, crc };
    if (page.buffer !== kernelBuffer) return { pgno, data: page, crc };
    const data = this.#allocatePage();
    data.set(page);
    return { pgno, data, crc };
  }

  #checkSize(pgno: number, n: number): void {
    const { pageSize } = this.#header!;
    if (n < 0) throw this.#corrupt(`page ${pgno} does not decompress`);
    if (n !== pageSize) throw this.#corrupt(`page ${pgno} decompresses to ${n} bytes, not ${pageSize}`);
  }

  #acceptPage(pgno: number, frameStart: number, data: Uint8Array): LtxPage {
    const crc = crcOf(data);
    this.#hashPage(pgno, crc, data.length);
    this.#countPage(pgno, frameStart);
    return { pgno, data, crc };
  }

  /** Hashes a decoded page once: its CRC feeds both the file checksum and the page checksum. */
  #hashPage(pgno: number, dataCrc: CrcState, pageSize: number): void {
    this.#crc.append(dataCrc, pageSize);
    const sum = this.#dbChecksum;
    if (sum !== null) {
      const page = pageChecksumOf(pgno, dataCrc, pageSize);
      sum.lo = (sum.lo ^ page.lo) >>> 0;
      sum.hi = (sum.hi ^ page.hi) >>> 0;
    }
  }

  /** Records a page frame that ends at the current offset, for the index check and page order. */
  #countPage(pgno: number, frameStart: number): void {
    this.#expectedIndex.add(pgno, frameStart, this.#in.offset - frameStart);
    this.#prevPgno = pgno;
    this.#pageCount++;
  }

  /** Where a page whose data is not kept decompresses when the kernel cannot take it. */
  #scratchPage(): Uint8Array {
    const size = this.#header!.pageSize;
    if (this.#scratch.length !== size) this.#scratch = new Uint8Array(size);
    return this.#scratch;
  }

  /** A page-sized view into a shared slab: one 4 KiB allocation per page costs more than the decode. */
  #allocatePage(): Uint8Array {
    const size = this.#header!.pageSize;
    if (this.#slabUsed + size > this.#slab.byteLength) {
      this.#slab = new ArrayBuffer(Math.max(SLAB_SIZE, size));
      this.#slabUsed = 0;
    }
    const page = new Uint8Array(this.#slab, this.#slabUsed, size);
    this.#slabUsed += size;
    return page;
  }

  /** Reads the rest of the file (any unread pages, index, trailer) and verifies every checksum. */
  async finish(): Promise<LtxTrailer> {
    if (this.#state === "header") await this.readHeader();
    while (this.#state === "pages") await this.readPage();
    if (this.#state !== "index") throw new Error("Cannot finish LTX decoder twice");
    this.#state = "done";
    const header = this.#header!;

    const { length: indexLength, digest } = await readIndexArea(this.#in, this.#crc, (d) => this.#corrupt(d));
    if (!digest.equals(this.#expectedIndex)) {
      throw this.#corrupt(
        `page index (${digest.count} entries) does not match the ${this.#pageCount} page frames`,
      );
    }
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
    this.#in.releaseBuffers();
    if (trailer.fileChecksum !== (CHECKSUM_FLAG | this.#crc.digest())) {
      throw this.#corrupt("file checksum mismatch");
    }

    if (isSnapshotHeader(header)) {
      const expected = header.commit - (header.commit >= this.#lockPgno ? 1 : 0);
      if (this.#pageCount !== expected) {
        throw this.#corrupt(
          `snapshot has ${this.#pageCount} pages but commit ${header.commit} needs ${expected}`,
        );
      }
    }
    const sum = this.#dbChecksum;
    if (
      sum !== null && (CHECKSUM_FLAG | (BigInt(sum.hi) << 32n) | BigInt(sum.lo)) !== trailer.postApplyChecksum
    ) {
      throw this.#corrupt("database checksum of the snapshot does not match its post-apply checksum");
    }
    return trailer;
  }

  /** Releases the stream without reading the rest. */
  async cancel(): Promise<void> {
    this.#state = "done";
    await this.#in.cancel();
  }

  #checkPage(pgno: number, flags: number): void {
    const header = this.#header!;
    const prev = this.#prevPgno;
    if (pgno === 0) throw this.#corrupt(`end marker has flags 0x${flags.toString(16)}`);
    if ((flags & ~PAGE_FLAG_SIZE) !== 0) {
      throw this.#corrupt(`page ${pgno} has invalid flags 0x${flags.toString(16)}`);
    }
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
    return new CorruptionError(
      `Corrupt LTX file "${this.#name}": ${detail}`,
      cause === undefined ? {} : { cause },
    );
  }
}

/** Frames per batch at most, whatever their size: zero pages compress to a few bytes each. */
const MAX_BATCH_FRAMES = 2048;
/** The page header that ends the page frames (pgno 0, flags 0). */
const END_MARKER = new Uint8Array(LTX_PAGE_HEADER_SIZE);

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
