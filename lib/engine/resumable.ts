/** A download that survives broken connections: on a read error it re-opens the file at the byte it reached. */
import type { LtxFileRef, ReplicaStore } from "../storage/store.ts";
import { isRetriableError } from "../storage/retry.ts";

export interface ResumableOptions {
  /** Re-opens allowed after errors. @default 5 */
  retries?: number;
  /** First wait before re-opening, doubled each time. @default 250 */
  backoffMs?: number;
  signal?: AbortSignal;
}

export function openResumable(
  store: Pick<ReplicaStore, "open">,
  file: LtxFileRef,
  options: ResumableOptions = {},
): ReadableStream<Uint8Array> {
  const { retries = 5, backoffMs = 250, signal } = options;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let offset = 0;
  let attempts = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        try {
          reader ??= (await store.open(file, offset > 0 ? { offset } : undefined, signal)).getReader();
          const { done, value } = await reader.read();
          if (done) return controller.close();
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
