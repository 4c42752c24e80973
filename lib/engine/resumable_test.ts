import assert from "node:assert/strict";
import type { ByteRange, LtxFileRef } from "../storage/store.ts";
import { StorageError } from "../util/errors.ts";
import { openResumable } from "./resumable.ts";

const FILE: LtxFileRef = { level: 0, minTxid: 1n, maxTxid: 2n };
const DATA = Uint8Array.from({ length: 300 }, (_, i) => i % 251);

/** A store whose first `badOpens` opens send 100 bytes, then `fault` (an error, silence for ever, or the end). */
function flakyStore(badOpens: number, fault: "error" | "silence" | "end") {
  const offsets: number[] = [];
  const cancelled: number[] = [];
  return {
    offsets,
    cancelled,
    open(_file: LtxFileRef, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
      const offset = range?.offset ?? 0;
      const n = offsets.push(offset);
      let sent = false;
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (n > badOpens) {
              controller.enqueue(DATA.slice(offset));
              return controller.close();
            }
            if (!sent) {
              sent = true;
              return controller.enqueue(DATA.slice(offset, offset + 100));
            }
            if (fault === "error") throw new StorageError("connection reset", { retriable: true });
            if (fault === "end") return controller.close(); // a response cut short, or an object being rewritten
            return new Promise(() => {}); // a connection that went silent
          },
          cancel: () => void cancelled.push(n),
        }, { highWaterMark: 0 }),
      );
    },
  };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("openResumable re-opens at the byte it reached after a broken read", async () => {
  const store = flakyStore(2, "error");
  assert.deepEqual(await readAll(openResumable(store, FILE, { backoffMs: 1 })), DATA);
  assert.deepEqual(store.offsets, [0, 100, 200]);
});

Deno.test("openResumable treats a silent connection as broken after the idle timeout", async () => {
  const store = flakyStore(1, "silence");
  const started = Date.now();
  assert.deepEqual(await readAll(openResumable(store, FILE, { backoffMs: 1, idleTimeoutMs: 50 })), DATA);
  assert.deepEqual(store.offsets, [0, 100]);
  assert.deepEqual(store.cancelled, [1], "the silent response is cancelled");
  assert.ok(Date.now() - started < 5_000);
});

Deno.test("openResumable gives up after its retries, naming the silence", async () => {
  const store = flakyStore(10, "silence");
  await assert.rejects(
    () => readAll(openResumable(store, FILE, { backoffMs: 1, idleTimeoutMs: 20, retries: 2 })),
    /no data for 0.02 s while reading L0\/0000000000000001-0000000000000002\.ltx/,
  );
  assert.equal(store.offsets.length, 3);
});

Deno.test("openResumable resumes a body that ends short of the listed size", async () => {
  const info = { ...FILE, createdAt: 0, sizeBytes: DATA.length };
  const store = flakyStore(2, "end");
  assert.deepEqual(await readAll(openResumable(store, info, { backoffMs: 1 })), DATA);
  assert.deepEqual(store.offsets, [0, 100, 200]);
  // An encrypted store's listing gives the plaintext size apart: that is what open() yields.
  const encrypted = { ...info, sizeBytes: DATA.length + 200, ltxSizeBytes: DATA.length };
  assert.deepEqual(await readAll(openResumable(flakyStore(0, "end"), encrypted)), DATA);
  // Short for good: a retriable error naming the file, after the retries.
  const truncated = {
    open: (_: LtxFileRef, range?: ByteRange) =>
      Promise.resolve(new Blob([DATA.slice(range?.offset ?? 0, 100)]).stream()),
  };
  await assert.rejects(
    () => readAll(openResumable(truncated, info, { backoffMs: 1, retries: 2 })),
    { message: "L0/0000000000000001-0000000000000002.ltx ended after 100 of its 300 bytes" },
  );
  // Without a listed size there is nothing to compare with.
  assert.equal((await readAll(openResumable(flakyStore(1, "end"), FILE))).length, 100);
});
