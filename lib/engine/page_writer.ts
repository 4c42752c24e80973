/** The restore's output writer on the reading thread: pages in, coalesced async writes out. */
import type { PageBatch } from "../ltx/page_batch.ts";

const WRITE_CHUNK = 1 << 20;
/** Past this many bytes written, an fdatasync starts beside the work, so the last one waits for little. */
const EARLY_SYNC_BYTES = 128 << 20;

/**
 * Writes pages at their offsets: runs of consecutive pages coalesce into ~1 MiB writes, and each write
 * runs on Deno's blocking pool while the next pages decode (two buffers, one write in flight). The
 * output file is ours alone (no SQLite locks on it), so async ops on it are safe.
 */
export class PageWriter {
  readonly #out: Deno.FsFile;
  readonly #pageSize: number;
  #buffer: Uint8Array;
  #spare: Uint8Array;
  #used = 0;
  #runStart = 0;
  #runNext = 0;
  #pending: Promise<void> = Promise.resolve();
  #syncing: Promise<void> = Promise.resolve();
  #unsynced = 0;
  written: Uint8Array = new Uint8Array(0);
  bytes = 0;

  constructor(out: Deno.FsFile, pageSize: number) {
    this.#out = out;
    this.#pageSize = pageSize;
    const size = Math.max(pageSize, Math.floor(WRITE_CHUNK / pageSize) * pageSize);
    this.#buffer = new Uint8Array(size);
    this.#spare = new Uint8Array(size);
  }

  /** Takes one page; `data` may be reused by the caller once this returns (it is copied before any wait). */
  put(pgno: number, data: Uint8Array): void | Promise<void> {
    if (pgno !== this.#runNext || this.#used + this.#pageSize > this.#buffer.length) {
      if (this.#used > 0) {
        const saved = data.slice();
        return this.flush().then(() => this.#place(pgno, saved));
      }
      this.#runStart = pgno;
    }
    this.#place(pgno, data);
  }

  #place(pgno: number, data: Uint8Array): void {
    if (this.#used === 0) this.#runStart = pgno;
    this.#buffer.set(data, this.#used);
    this.#used += this.#pageSize;
    this.#runNext = pgno + 1;
    if (pgno < this.written.length * 8) this.written[pgno >> 3]! |= 1 << (pgno & 7);
    this.bytes += this.#pageSize;
  }

  /** Starts writing the current run once the previous write is done. */
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const run = this.#buffer.subarray(0, this.#used);
    const position = (this.#runStart - 1) * this.#pageSize;
    await this.#pending;
    [this.#buffer, this.#spare] = [this.#spare, this.#buffer];
    this.#used = 0;
    this.#pending = this.#writeAt(run, position);
    this.#pending.catch(() => {}); // observed by the next flush or by drain()
    this.#noteWritten(run.length);
  }

  /** Accounts for a batch of pages that workers write through their own descriptors. */
  noteBatch(batch: PageBatch): void {
    const { frames, count, pageSize } = batch;
    for (let i = 0; i < count; i++) {
      const pgno = frames[i * 4]!;
      if (pgno < this.written.length * 8) this.written[pgno >> 3]! |= 1 << (pgno & 7);
    }
    this.bytes += count * pageSize;
    this.#noteWritten(count * pageSize);
  }

  #noteWritten(bytes: number): void {
    this.#unsynced += bytes;
    if (this.#unsynced < EARLY_SYNC_BYTES) return;
    // Start the disk writes now, beside the decoding, so the final fsync has only the tail to wait for.
    this.#unsynced = 0;
    const previous = this.#syncing;
    this.#syncing = previous.then(() => this.#out.syncData());
    this.#syncing.catch(() => {});
  }

  /** Writes what is buffered and waits for every write. */
  async drain(): Promise<void> {
    await this.flush();
    await this.#pending;
    await this.#syncing;
  }

  async #writeAt(bytes: Uint8Array, position: number): Promise<void> {
    await this.#out.seek(position, Deno.SeekMode.Start);
    for (let at = 0; at < bytes.length;) at += await this.#out.write(bytes.subarray(at));
  }
}
