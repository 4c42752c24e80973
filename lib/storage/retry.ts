/**
 * A ReplicaStore decorator that retries calls which failed for a reason that may pass: exponential backoff with
 * full jitter, capped. Adapters decide retriability (StorageError.retriable); this module only reads it.
 */
import { CorruptionError, errorMessage, NotFoundError, StorageError, WalshipError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { ByteRange, LtxFileInfo, LtxFileRef, ReplicaStore, WriteBody } from "./store.ts";

export interface RetryOptions {
  /** Tries per call, the first included. @default 5 */
  attempts?: number;
  /** Upper bound of the first backoff, doubled per retry. @default 200 */
  baseDelayMs?: number;
  /** Cap on any one backoff. @default 10_000 */
  maxDelayMs?: number;
  /** Where retries are reported (the first at debug, later ones at warn). */
  logger?: Logger;
  /** Waits `ms`, rejecting when `signal` fires. @default a timer */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for the jitter. @default Math.random */
  random?: () => number;
}

/** Whether an error may go away when the call is made again: retriable storage faults and non-walship errors. */
export function isRetriableError(err: unknown): boolean {
  if (err instanceof NotFoundError || err instanceof CorruptionError) return false;
  if (err instanceof StorageError) return err.retriable;
  // Other walship errors are decisions (usage, corruption); anything else is a network or runtime fault.
  return !(err instanceof WalshipError);
}

/** Wraps `store` so list/open/write/remove are retried; describe() is the inner store's. */
export function withRetries(store: ReplicaStore, options: RetryOptions = {}): ReplicaStore {
  return new RetryingStore(store, options);
}

class RetryingStore implements ReplicaStore {
  #inner: ReplicaStore;
  #attempts: number;
  #baseDelayMs: number;
  #maxDelayMs: number;
  #logger?: Logger;
  #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #random: () => number;

  constructor(inner: ReplicaStore, options: RetryOptions) {
    const { attempts = 5, baseDelayMs = 200, maxDelayMs = 10_000, sleep = abortableSleep } = options;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new RangeError(`Cannot retry: 'attempts' must be a positive integer, got ${attempts}`);
    }
    this.#inner = inner;
    this.#attempts = attempts;
    this.#baseDelayMs = baseDelayMs;
    this.#maxDelayMs = maxDelayMs;
    if (options.logger) this.#logger = options.logger;
    this.#sleep = sleep;
    this.#random = options.random ?? Math.random;
  }

  describe(): string {
    return this.#inner.describe();
  }

  list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    return this.#retry(`list level ${level}`, signal, () => this.#inner.list(level, signal));
  }

  /** Retries opening only; a stream that breaks later is resumed by lib/engine/resumable.ts. */
  open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    return this.#retry("open", signal, () => this.#inner.open(file, range, signal));
  }

  /** Each attempt hands the inner store the same body, whose open() gives a fresh stream. */
  write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo> {
    return this.#retry("write", signal, () => this.#inner.write(file, body, signal));
  }

  /** Removal is idempotent (files already gone are fine), so the whole batch is simply tried again. */
  remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void> {
    return this.#retry("remove", signal, () => this.#inner.remove(files, signal));
  }

  async #retry<T>(op: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (attempt >= this.#attempts || signal?.aborted || !isRetriableError(err)) throw err;
        const delayMs = this.#delayMs(attempt);
        this.#report(op, attempt, delayMs, err);
        await this.#sleep(delayMs, signal);
        signal?.throwIfAborted();
      }
    }
  }

  /** Full jitter (uniform in [0, ceiling)) spreads clients that failed together; the ceiling doubles, capped. */
  #delayMs(attempt: number): number {
    const ceiling = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.#random() * ceiling);
  }

  #report(op: string, attempt: number, delayMs: number, err: unknown): void {
    if (!this.#logger) return;
    const fields = {
      store: this.#inner.describe(),
      op,
      attempt,
      of: this.#attempts,
      delayMs,
      error: errorMessage(err),
    };
    // One blip is routine for object storage; repeated failures are worth a warning.
    if (attempt === 1) this.#logger.debug("Retrying replica store call", fields);
    else this.#logger.warn("Retrying replica store call", fields);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it fires. */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
