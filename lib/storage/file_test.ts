import assert from "node:assert/strict";
import { FileStore } from "./file.ts";
import { bytesBody } from "./store.ts";
import { runStoreConformance } from "./store_conformance.ts";

runStoreConformance("FileStore", async () => new FileStore(await Deno.makeTempDir()));

Deno.test("FileStore uses Litestream's file layout and leaves no temp files", async () => {
  const root = await Deno.makeTempDir();
  const store = new FileStore(root);
  await store.write(
    { level: 0, minTxid: 1n, maxTxid: 0x2an, createdAt: 1_700_000_000_123 },
    bytesBody(new Uint8Array(9)),
  );
  const names = [...Deno.readDirSync(`${root}/ltx/0`)].map((e) => e.name);
  assert.deepEqual(names, ["0000000000000001-000000000000002a.ltx"]);
  assert.equal(Deno.statSync(`${root}/ltx/0/${names[0]}`).mtime?.getTime(), 1_700_000_000_123);
});

Deno.test("FileStore ignores foreign names and reports a short body", async () => {
  const root = await Deno.makeTempDir();
  Deno.mkdirSync(`${root}/ltx/0`, { recursive: true });
  Deno.writeTextFileSync(`${root}/ltx/0/README`, "x");
  Deno.writeTextFileSync(`${root}/ltx/0/00000000000000AA-00000000000000AA.ltx`, "x");
  const store = new FileStore(root);
  assert.deepEqual(await store.list(0), []);
  const body = { sizeBytes: 10, open: () => bytesBody(new Uint8Array(3)).open() };
  await assert.rejects(
    () => store.write({ level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 0 }, body),
    /got 3 bytes/,
  );
  assert.deepEqual([...Deno.readDirSync(`${root}/ltx/0`)].map((e) => e.name).sort(), [
    "00000000000000AA-00000000000000AA.ltx",
    "README",
  ]);
});

Deno.test("FileStore copies a body that names its local file, checking its size", async () => {
  const root = await Deno.makeTempDir();
  const src = `${root}/src.ltx`;
  const bytes = crypto.getRandomValues(new Uint8Array(3000));
  Deno.writeFileSync(src, bytes);
  const store = new FileStore(`${root}/replica`);
  const streamed = () => {
    throw new Error("a local body is copied, not streamed");
  };
  const ref = { level: 0, minTxid: 1n, maxTxid: 2n, createdAt: 1_700_000_000_000 };
  const info = await store.write(ref, { sizeBytes: 3000, localPath: src, open: streamed });
  assert.equal(info.sizeBytes, 3000);
  assert.deepEqual(Deno.readFileSync(store.pathOf(ref)), bytes);
  assert.equal(Deno.statSync(store.pathOf(ref)).mtime?.getTime(), 1_700_000_000_000);
  const other = { ...ref, minTxid: 3n, maxTxid: 3n };
  await assert.rejects(
    () => store.write(other, { sizeBytes: 10, localPath: src, open: streamed }),
    /got 3000 bytes, expected 10/,
  );
  assert.deepEqual([...Deno.readDirSync(`${root}/replica/ltx/0`)].map((e) => e.name), [
    "0000000000000001-0000000000000002.ltx",
  ]);
  await Deno.remove(root, { recursive: true });
});
