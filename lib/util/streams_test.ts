import assert from "node:assert/strict";
import { chunksStream, readAllChunks, yielding } from "./streams.ts";

Deno.test("yielding waits for its gate before each chunk", async () => {
  let open = Promise.withResolvers<void>();
  const source = chunksStream([Uint8Array.of(1), Uint8Array.of(2)]);
  const reader = yielding(source, () => open.promise).getReader();
  let got: number | undefined;
  const first = reader.read().then((r) => (got = r.value?.[0]));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(got, undefined, "held while the gate is shut");
  open.resolve();
  await first;
  assert.equal(got, 1);
  open = Promise.withResolvers<void>();
  open.resolve();
  assert.deepEqual((await reader.read()).value, Uint8Array.of(2));
  assert.equal((await reader.read()).done, true);
});

Deno.test("readAllChunks keeps the chunks as they came; chunksStream replays them", async () => {
  const chunks = [Uint8Array.of(1, 2), Uint8Array.of(3)];
  const read = await readAllChunks(chunksStream(chunks));
  assert.equal(read.length, 2);
  assert.equal(read[0], chunks[0], "the same buffer, not a copy");
  assert.deepEqual(await readAllChunks(yielding(chunksStream(chunks))), chunks);
});
