/** The restore's output writer on the reading thread: pages in, coalesced writes out, the bookkeeping of both. */
import type { PageBatch } from "../ltx/page_batch.ts";
import { SyncRunWriter } from "./sync_run_writer.ts";

/** Past this many bytes written, an fdatasync starts beside the work, so the last one waits for little. */
const EARLY_SYNC_BYTES = 128 << 20;

/**
 * Writes pages at their offsets through a SyncRunWriter: synchronous on purpose, since the pages of
 * small files (L0) are scattered and an async op per short run costs far more than the write (large
 * files go through worker lanes instead). Records which pages were written and starts fdatasyncs early
 * on the blocking pool; the output file is ours alone (no SQLite locks), so async ops on it are safe.
 */
export class PageWriter {
  readonly #out: Deno.FsFile;
  readonly #runs: SyncRunWriter;
  #syncing: Promise<void> = Promise.resolve();
  #unsynced = 0;
  written: Uint8Array = new Uint8Array(0);
  bytes = 0;

  constructor(out: Deno.FsFile, pageSize: number) {
    this.#out = out;
    this.#runs = new SyncRunWriter(out, pageSize);
  }

  /** Takes one page; `data` may be reused by the caller once this returns. */
  put(pgno: number, data: Uint8Array): void {
    this.#runs.put(pgno, data);
    this.#mark(pgno);
    this.bytes += data.length;
    this.#noteWritten(data.length);
  }

  /** Accounts for a batch of pages that lanes write through their own descriptors. */
  noteBatch(batch: PageBatch): void {
    const { frames, count, pageSize } = batch;
    for (let i = 0; i < count; i++) this.#mark(frames[i * 4]!);
    this.bytes += count * pageSize;
    this.#noteWritten(count * pageSize);
  }

  /** Writes what is buffered and waits for the early fdatasyncs. */
  async drain(): Promise<void> {
    this.#runs.flush();
    await this.#syncing;
  }

  #mark(pgno: number): void {
    if (pgno < this.written.length * 8) this.written[pgno >> 3]! |= 1 << (pgno & 7);
  }

  #noteWritten(bytes: number): void {
    this.#unsynced += bytes;
    if (this.#unsynced < EARLY_SYNC_BYTES) return;
    // Start the disk writes now, beside the decoding, so the final fsync has only the tail to wait for.
    this.#unsynced = 0;
    this.#runs.flush();
    const previous = this.#syncing;
    this.#syncing = previous.then(() => this.#out.syncData());
    this.#syncing.catch(() => {});
  }
}
