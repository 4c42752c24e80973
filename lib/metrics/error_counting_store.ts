/** A ReplicaStore decorator that counts failed calls, for `walship_replica_errors_total`. */
import type { ByteRange, LtxFileInfo, LtxFileRef, ReplicaStore, WriteBody } from "../storage/store.ts";

export interface ErrorCountingStore extends ReplicaStore {
  /** Calls that failed (after the retries of the store inside), not counting ones cancelled by their signal. */
  readonly errors: number;
}

export function countErrors(inner: ReplicaStore): ErrorCountingStore {
  return new Counting(inner);
}

class Counting implements ErrorCountingStore {
  #inner: ReplicaStore;
  errors = 0;
  constructor(inner: ReplicaStore) {
    this.#inner = inner;
  }

  async #count<T>(call: Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if (!signal?.aborted) this.errors++;
      throw err;
    }
  }

  list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    return this.#count(this.#inner.list(level, signal), signal);
  }
  open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    return this.#count(this.#inner.open(file, range, signal), signal);
  }
  write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo> {
    return this.#count(this.#inner.write(file, body, signal), signal);
  }
  remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void> {
    return this.#count(this.#inner.remove(files, signal), signal);
  }
  describe(): string {
    return this.#inner.describe();
  }
}
