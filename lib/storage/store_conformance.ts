/** One behaviour suite every ReplicaStore adapter must pass: file always, S3 and Azure against local servers. */
import assert from "node:assert/strict";
import { NotFoundError } from "../util/errors.ts";
import { bytesBody, type ReplicaStore } from "./store.ts";

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

export function runStoreConformance(name: string, makeStore: () => Promise<ReplicaStore>): void {
  Deno.test(`${name}: write, list in TXID order, read whole and by range`, async () => {
    const store = await makeStore();
    assert.deepEqual(await store.list(0), []);
    const created = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const data = bytes(5000, 1);
    for (const txid of [3n, 1n, 2n]) {
      await store.write({ level: 0, minTxid: txid, maxTxid: txid, createdAt: created }, bytesBody(data));
    }
    await store.write({ level: 9, minTxid: 1n, maxTxid: 3n, createdAt: created }, bytesBody(data));
    const listed = await store.list(0);
    assert.deepEqual(listed.map((f) => f.minTxid), [1n, 2n, 3n]);
    assert.equal(listed[0]!.sizeBytes, 5000);
    assert.equal(listed[0]!.createdAt, created);
    assert.deepEqual((await store.list(9)).map((f) => [f.minTxid, f.maxTxid]), [[1n, 3n]]);
    assert.deepEqual(await readAll(await store.open({ level: 0, minTxid: 2n, maxTxid: 2n })), data);
    const part = await readAll(
      await store.open({ level: 0, minTxid: 2n, maxTxid: 2n }, { offset: 100, length: 50 }),
    );
    assert.deepEqual(part, data.subarray(100, 150));
    const tail = await readAll(await store.open({ level: 0, minTxid: 2n, maxTxid: 2n }, { offset: 4990 }));
    assert.deepEqual(tail, data.subarray(4990));
  });

  Deno.test(`${name}: a missing file is NotFoundError; removing twice is fine`, async () => {
    const store = await makeStore();
    await assert.rejects(() => store.open({ level: 0, minTxid: 9n, maxTxid: 9n }), NotFoundError);
    await store.write({ level: 1, minTxid: 1n, maxTxid: 4n, createdAt: 1 }, bytesBody(bytes(10, 2)));
    await store.remove([{ level: 1, minTxid: 1n, maxTxid: 4n }]);
    await store.remove([{ level: 1, minTxid: 1n, maxTxid: 4n }]);
    assert.deepEqual(await store.list(1), []);
  });

  Deno.test(`${name}: a retried write replays its body and replaces the file`, async () => {
    const store = await makeStore();
    const ref = { level: 0, minTxid: 7n, maxTxid: 7n, createdAt: 5 };
    await store.write(ref, bytesBody(bytes(300, 3)));
    await store.write(ref, bytesBody(bytes(400, 4)));
    assert.deepEqual(await readAll(await store.open(ref)), bytes(400, 4));
    assert.equal((await store.list(0))[0]!.sizeBytes, 400);
  });
}
