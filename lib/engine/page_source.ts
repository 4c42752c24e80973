/**
 * The pages of an LTX file, in the order it writes them: each from its newest WAL frame when the page map
 * has one, else from the database file. Reads go through one window per file, filled by a single read
 * with the stretch that holds the next pages wanted from that file: the frames of one sync are
 * contiguous and, for appends, page order mostly follows frame order, so a sync of thousands of pages
 * costs a few dozen reads instead of a seek and a read (and a fresh buffer) per page.
 */
import { LtxDecoder } from "../ltx/decoder.ts";
import type { LtxHeader } from "../ltx/header.ts";
import { readFramePage, WAL_FRAME_HEADER_SIZE, type WalFrameHeader } from "../sqlite/mod.ts";
import { bytesEqual, readIntoSync } from "../util/bytes.ts";
import { CorruptionError } from "../util/errors.ts";
import type { DatabaseFile } from "./database_file.ts";
import type { LocalStore } from "./local_store.ts";

/** Bytes one window read covers at most (at least one page). */
const WINDOW_BYTES = 1 << 20;
/** Pages planned at once: a window looks this far ahead at most. */
const BATCH = 1024;

/** The two window buffers, kept across the syncs of one database: fresh megabytes each sync cost page faults. */
export class PageReadBuffers {
  #buffers: (Uint8Array | undefined)[] = [];
  get(which: 0 | 1, pageSize: number): Uint8Array {
    const size = Math.max(WINDOW_BYTES, pageSize);
    const buf = this.#buffers[which];
    if (buf && buf.length >= size) return buf;
    return (this.#buffers[which] = new Uint8Array(size));
  }
}

/** File bytes [start, end) held in `buf`. */
interface Window {
  buf: Uint8Array;
  start: number;
  end: number;
}

export class PageSource {
  #db: DatabaseFile;
  #wal: Deno.FsFile | null;
  #frames: Map<number, number> | undefined;
  #pageSize: number;
  #buffers: PageReadBuffers;
  constructor(
    db: DatabaseFile,
    wal: Deno.FsFile | null,
    frames: Map<number, number> | undefined,
    pageSize: number,
    buffers: PageReadBuffers = new PageReadBuffers(),
  ) {
    this.#db = db;
    this.#wal = wal;
    this.#frames = frames;
    this.#pageSize = pageSize;
    this.#buffers = buffers;
  }

  /**
   * Each page of `pgnos` with its bytes. The bytes are a view of a window buffer, valid only until the
   * next page is asked for: the consumer must use them (compress, checksum) before moving on.
   */
  *pages(pgnos: Iterable<number>): Generator<[number, Uint8Array]> {
    const ps = this.#pageSize;
    const windows: [Window, Window] = [
      { buf: this.#buffers.get(0, ps), start: 0, end: 0 },
      { buf: this.#buffers.get(1, ps), start: 0, end: 0 },
    ];
    const batch: number[] = [];
    const offsets: number[] = [];
    const inWal: boolean[] = [];
    const it = pgnos[Symbol.iterator]();
    for (let done = false; !done;) {
      batch.length = offsets.length = inWal.length = 0;
      while (batch.length < BATCH) {
        const next = it.next();
        if (next.done) {
          done = true;
          break;
        }
        const pgno = next.value;
        const frameOffset = this.#wal ? this.#frames?.get(pgno) : undefined;
        batch.push(pgno);
        inWal.push(frameOffset !== undefined);
        offsets.push(frameOffset !== undefined ? frameOffset + WAL_FRAME_HEADER_SIZE : (pgno - 1) * ps);
      }
      for (let i = 0; i < batch.length; i++) {
        const w = windows[inWal[i] ? 1 : 0];
        const offset = offsets[i]!;
        if (offset < w.start || offset + ps > w.end) this.#fill(w, i, offsets, inWal);
        const at = offset - w.start;
        yield [batch[i]!, w.buf.subarray(at, at + ps)];
      }
    }
  }

  /**
   * Fills `w` from the offset of page `i` of the batch through the last of the pages that follow it from
   * the same file while they fall within one window, so a page wanted alone is read alone.
   */
  #fill(w: Window, i: number, offsets: number[], inWal: boolean[]): void {
    const ps = this.#pageSize;
    const start = offsets[i]!;
    const wal = inWal[i]!;
    let end = start + ps;
    const limit = Math.min(offsets.length, i + 2 * (w.buf.length / ps) + 64);
    for (let j = i + 1; j < limit; j++) {
      if (inWal[j] !== wal) continue;
      const o = offsets[j]!;
      if (o < start || o + ps > start + w.buf.length) break;
      if (o + ps > end) end = o + ps;
    }
    const view = w.buf.subarray(0, end - start);
    w.start = start;
    if (wal) {
      const got = readIntoSync(this.#wal!, start, view);
      w.end = start + got;
      if (got < ps) {
        const frameOffset = start - WAL_FRAME_HEADER_SIZE;
        throw new CorruptionError(
          `Cannot read WAL frame at offset ${frameOffset}: file ends ${ps - got} bytes short of the page`,
        );
      }
    } else {
      // Pages the database grew by that no frame wrote yet read as zeros, as SQLite would see them.
      const got = this.#db.readInto(start, view);
      view.fill(0, got);
      w.end = start + view.length;
    }
  }
}

/**
 * Whether the WAL frame at `offset` holds the same page bytes as the position's last L0 file: the slow
 * check, used once after a restart, that the WAL was not rewritten while walship was away.
 */
export async function findPageInLtx(
  local: LocalStore,
  position: LtxHeader,
  wal: Deno.FsFile,
  offset: number,
  frame: WalFrameHeader,
): Promise<boolean> {
  const stream = await local.open({ level: 0, minTxid: position.minTxid, maxTxid: position.maxTxid });
  const decoder = new LtxDecoder(stream, { name: "local position file" });
  try {
    await decoder.readHeader();
    for (let page = await decoder.readPage(); page; page = await decoder.readPage()) {
      if (page.pgno === frame.pgno) {
        return bytesEqual(page.data, await readFramePage(wal, offset, position.pageSize));
      }
      if (page.pgno > frame.pgno) return false;
    }
    return false;
  } finally {
    await decoder.cancel();
  }
}
