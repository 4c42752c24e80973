/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * Worker side of PageWritePool: decompresses and hashes batches of page frames and writes the pages
 * into the restore's output file through its own descriptor (pages of one batch never overlap another
 * batch's, and the file is the restore's alone, so no ordering or locking is needed beyond the pool's).
 */
import type { PageBatch } from "../ltx/page_batch.ts";
import { BatchWriter } from "./sync_run_writer.ts";

export type PageWriteRequest =
  | { type: "open"; path: string }
  | { type: "batch"; id: number; batch: PageBatch }
  | { type: "close" };

export type PageWriteReply =
  | { type: "opened" }
  | { type: "batch"; id: number; crcs: Uint32Array; spent: ArrayBuffer }
  | { type: "batch"; id: number; badFrame: number; reason: string; spent: ArrayBuffer }
  | { type: "failed"; id?: number; message: string }
  | { type: "closed" };

let out: Deno.FsFile | undefined;
let writer: BatchWriter | undefined;

self.onmessage = (event: MessageEvent<PageWriteRequest>) => {
  const request = event.data;
  const reply = (message: PageWriteReply, transfer: Transferable[] = []) =>
    self.postMessage(message, transfer);
  try {
    switch (request.type) {
      case "open":
        out = Deno.openSync(request.path, { write: true });
        writer = new BatchWriter(out);
        return reply({ type: "opened" });
      case "batch": {
        const result = writer!.write(request.batch);
        // The batch's buffer goes back to the pool for the next batch: no garbage per megabyte.
        const spent = request.batch.bytes.buffer as ArrayBuffer;
        if ("crcs" in result) {
          return reply({ type: "batch", id: request.id, crcs: result.crcs, spent }, [
            result.crcs.buffer as ArrayBuffer,
            spent,
          ]);
        }
        return reply({ type: "batch", id: request.id, ...result, spent }, [spent]);
      }
      case "close":
        out?.close();
        out = writer = undefined;
        return reply({ type: "closed" });
    }
  } catch (err) {
    const id = request.type === "batch" ? request.id : undefined;
    reply({ type: "failed", id, message: err instanceof Error ? err.message : String(err) });
  }
};
