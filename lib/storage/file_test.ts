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
