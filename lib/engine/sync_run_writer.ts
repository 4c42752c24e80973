/**
 * Writes pages at their offsets with synchronous calls, coalescing runs of consecutive pages into
 * writes of up to 1 MiB. For threads where blocking is fine (a Worker) or for small outputs.
 */
import { type BatchResult, decodeBatch, type PageBatch } from "../ltx/page_batch.ts";

const RUN_BYTES = 1 << 20;

export class SyncRunWriter {
  readonly #out: Deno.FsFile;
  readonly pageSize: number;
  readonly #buffer: Uint8Array;
  #used = 0;
  #runStart = 0;
  #runNext = 0;

  constructor(out: Deno.FsFile, pageSize: number) {
    this.#out = out;
    this.pageSize = pageSize;
    this.#buffer = new Uint8Array(Math.max(pageSize, Math.floor(RUN_BYTES / pageSize) * pageSize));
  }

  /** Takes one page; `data` is copied before this returns. */
  put(pgno: number, data: Uint8Array): void {
    if (this.#used > 0 && (pgno !== this.#runNext || this.#used + this.pageSize > this.#buffer.length)) {
      this.flush();
    }
    if (this.#used === 0) this.#runStart = pgno;
    this.#buffer.set(data, this.#used);
    this.#used += this.pageSize;
    this.#runNext = pgno + 1;
  }

  flush(): void {
    if (this.#used === 0) return;
    this.#out.seekSync((this.#runStart - 1) * this.pageSize, Deno.SeekMode.Start);
    const run = this.#buffer.subarray(0, this.#used);
    for (let at = 0; at < run.length;) at += this.#out.writeSync(run.subarray(at));
    this.#used = 0;
  }
}

/** A lane of the restore: decodes batches (lib/ltx/page_batch.ts) and writes their pages through its descriptor. */
export class BatchWriter {
  readonly #out: Deno.FsFile;
  #runs: SyncRunWriter | undefined;

  constructor(out: Deno.FsFile) {
    this.#out = out;
  }

  write(batch: PageBatch): BatchResult {
    if (this.#runs?.pageSize !== batch.pageSize) this.#runs = new SyncRunWriter(this.#out, batch.pageSize);
    const runs = this.#runs;
    const result = decodeBatch(batch, (pgno, data) => runs.put(pgno, data));
    runs.flush();
    return result;
  }
}
