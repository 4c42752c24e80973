/**
 * A download that survives broken connections: on a read error, when no byte arrives for a while (a
 * connection that went silent never errors), or when the body ends short of the size the listing gave
 * (a truncated response, or a server that rewrote the object under the read), it re-opens the file at
 * the byte it reached.
 */
import type { LtxFileInfo, LtxFileRef, ReplicaStore } from "../storage/store.ts";
import { isRetriableError } from "../storage/retry.ts";
import { StorageError } from "../util/errors.ts";
import { ltxFileName } from "../ltx/txid.ts";

export interface ResumableOptions {
  /** Re-opens allowed after errors. @default 5 */
  retries?: number;
  /** First wait before re-opening, doubled each time. @default 250 */
  backoffMs?: number;
  /** A read that brings nothing for this long counts as a broken connection. @default 60_000 */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export function openResumable(
  store: Pick<ReplicaStore, "open">,
  file: LtxFileRef | LtxFileInfo,
  options: ResumableOptions = {},
): ReadableStream<Uint8Array> {
  const { retries = 5, backoffMs = 250, idleTimeoutMs = 60_000, signal } = options;
  // The bytes open() yields: an encrypted store's listing gives the plaintext size apart.
  const expected = "sizeBytes" in file ? file.ltxSizeBytes ?? file.sizeBytes : undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let offset = 0;
  let attempts = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        try {
          reader ??= (await store.open(file, offset > 0 ? { offset } : undefined, signal)).getReader();
          const { done, value } = await readWithin(reader, idleTimeoutMs, file);
          if (done) {
            if (expected !== undefined && offset < expected) throw endedShort(file, offset, expected);
            return controller.close();
          }
          offset += value.length;
          controller.enqueue(value);
          return;
        } catch (err) {
          reader?.cancel().catch(() => {});
          reader = undefined;
          if (!isRetriableError(err) || attempts >= retries || signal?.aborted) throw err;
          await new Promise((r) => setTimeout(r, backoffMs * 2 ** attempts));
          attempts++;
        }
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

function endedShort(file: LtxFileRef, offset: number, expected: number): StorageError {
  const name = `L${file.level}/${ltxFileName(file.minTxid, file.maxTxid)}`;
  return new StorageError(`${name} ended after ${offset} of its ${expected} bytes`, { retriable: true });
}

/** One read, failing (retriably) when nothing arrives within `ms`. */
async function readWithin<T>(
  reader: ReadableStreamDefaultReader<T>,
  ms: number,
  file: LtxFileRef,
): Promise<ReadableStreamReadResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const name = `L${file.level}/${ltxFileName(file.minTxid, file.maxTxid)}`;
      reject(new StorageError(`no data for ${ms / 1000} s while reading ${name}`, { retriable: true }));
    }, ms);
  });
  try {
    return await Promise.race([reader.read(), silent]);
  } finally {
    clearTimeout(timer);
  }
}
