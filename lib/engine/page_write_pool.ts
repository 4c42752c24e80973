/**
 * Lanes that decompress, hash and write restore pages: this thread, which also reads and checks the
 * LTX file (LtxDecoder.forEachBatch), takes one batch in `workers + 1` itself, and Workers take the
 * rest, so on a large snapshot that work spreads over the cores. Each lane writes through its own
 * descriptor of the output file (pages of a file never repeat, so lanes never write the same page).
 */
import type { BatchResult, PageBatch } from "../ltx/page_batch.ts";
import type { PageWriteReply, PageWriteRequest } from "./page_write_worker.ts";
import { BatchWriter } from "./sync_run_writer.ts";

/** Spare batch buffers kept at most: as many as batches can be out at once, and one being filled. */
const MAX_SPARE = 16;

interface Waiting<T> {
  resolve(result: T): void;
  reject(err: Error): void;
}

export class PageWritePool {
  readonly #workers: Worker[];
  readonly #waiting = new Map<number, Waiting<BatchResult>>();
  /** Open and close requests awaiting the worker's answer (each worker answers in order). */
  readonly #acks: Waiting<void>[] = [];
  #nextId = 0;
  #nextLane = 0;
  #failure: Error | undefined;
  #local: Deno.FsFile | undefined;
  #localLane: BatchWriter | undefined;
  /** Batch buffers back from the lanes, for the decoder's next batches. */
  readonly #spare: ArrayBuffer[] = [];

  private constructor(count: number) {
    this.#workers = Array.from({ length: count }, () => {
      const worker = new Worker(new URL("./page_write_worker.ts", import.meta.url).href, { type: "module" });
      worker.onmessage = (event: MessageEvent<PageWriteReply>) => this.#receive(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#fail(new Error(`restore worker failed: ${event.message}`));
      };
      return worker;
    });
  }

  /** Starts `count` workers, each with the output file open for writing, and opens this thread's lane. */
  static async open(path: string, count: number): Promise<PageWritePool> {
    const pool = new PageWritePool(count);
    try {
      pool.#local = Deno.openSync(path, { write: true });
      pool.#localLane = new BatchWriter(pool.#local);
      await Promise.all(pool.#workers.map((worker) => pool.#ask(worker, { type: "open", path })));
    } catch (err) {
      pool.terminate();
      throw err;
    }
    return pool;
  }

  /** A buffer for a batch's bytes: one a lane gave back when it is large enough. */
  allocate(size: number): Uint8Array {
    const spare = this.#spare.pop();
    return spare && spare.byteLength >= size ? new Uint8Array(spare, 0, size) : new Uint8Array(size);
  }

  /** Decodes and writes one batch on the next lane; a worker gets the batch's bytes transferred. */
  decode(batch: PageBatch): Promise<BatchResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    const lane = this.#nextLane++ % (this.#workers.length + 1);
    if (lane === this.#workers.length) return Promise.resolve(this.#decodeHere(batch));
    const id = this.#nextId++;
    const worker = this.#workers[lane]!;
    const frames = batch.frames.slice(0, batch.count * 4);
    const result = new Promise<BatchResult>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    // The view keeps its offset and length across the transfer of its whole buffer.
    this.#post(worker, { type: "batch", id, batch: { ...batch, frames } }, [
      batch.bytes.buffer as ArrayBuffer,
    ]);
    return result;
  }

  #decodeHere(batch: PageBatch): BatchResult {
    const result = this.#localLane!.write(batch);
    this.#recycle(batch.bytes.buffer as ArrayBuffer);
    return result;
  }

  /** Closes every lane's descriptor, then stops the workers. */
  async close(): Promise<void> {
    try {
      this.#closeLocal();
      await Promise.all(this.#workers.map((worker) => this.#ask(worker, { type: "close" })));
    } finally {
      this.terminate();
    }
  }

  terminate(): void {
    this.#closeLocal();
    for (const worker of this.#workers) worker.terminate();
    this.#fail(new Error("restore workers stopped"));
  }

  #recycle(buffer: ArrayBuffer): void {
    if (this.#spare.length < MAX_SPARE) this.#spare.push(buffer);
  }

  #closeLocal(): void {
    this.#local?.close();
    this.#local = this.#localLane = undefined;
  }

  #post(worker: Worker, request: PageWriteRequest, transfer: Transferable[] = []): void {
    worker.postMessage(request, transfer);
  }

  /** Sends an open or close request and waits for its answer. */
  #ask(worker: Worker, request: PageWriteRequest): Promise<void> {
    const answered = new Promise<void>((resolve, reject) => this.#acks.push({ resolve, reject }));
    this.#post(worker, request);
    return answered;
  }

  #receive(reply: PageWriteReply): void {
    switch (reply.type) {
      case "opened":
      case "closed":
        this.#acks.shift()?.resolve();
        return;
      case "batch": {
        const waiting = this.#waiting.get(reply.id);
        this.#waiting.delete(reply.id);
        this.#recycle(reply.spent);
        waiting?.resolve(
          "crcs" in reply ? { crcs: reply.crcs } : { badFrame: reply.badFrame, reason: reply.reason },
        );
        return;
      }
      case "failed":
        this.#fail(new Error(reply.message));
    }
  }

  /** An I/O error or a dead worker fails everything outstanding: the restore cannot complete. */
  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiting of [...this.#waiting.values(), ...this.#acks]) waiting.reject(this.#failure);
    this.#waiting.clear();
    this.#acks.length = 0;
  }
}
