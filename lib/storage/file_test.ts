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
  // Not movable (a local L0 the replicator keeps): a copy of its own, so one damaged file is not both.
  assert.notEqual(Deno.statSync(store.pathOf(ref)).ino, Deno.statSync(src).ino);
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

Deno.test("FileStore links a movable local file into place, and copies it where it cannot link", async () => {
  const root = await Deno.makeTempDir();
  const store = new FileStore(`${root}/replica`);
  const streamed = () => {
    throw new Error("a local body is linked or copied, not streamed");
  };
  const bytes = crypto.getRandomValues(new Uint8Array(5000));
  const ref = { level: 1, minTxid: 1n, maxTxid: 9n, createdAt: 1_700_000_000_000 };
  const scratch = `${root}/merged.tmp`;
  Deno.writeFileSync(scratch, bytes);
  await store.write(ref, { sizeBytes: 5000, localPath: scratch, movable: true, open: streamed });
  const stored = Deno.statSync(store.pathOf(ref));
  assert.equal(stored.ino, Deno.statSync(scratch).ino, "linked, not copied");
  assert.equal(stored.mtime?.getTime(), 1_700_000_000_000);
  Deno.removeSync(scratch); // as the compactor does
  assert.deepEqual(Deno.readFileSync(store.pathOf(ref)), bytes);

  // A process that may read the scratch file but not write where it lies cannot link it (as across
  // filesystems, EXDEV): it copies instead.
  Deno.writeFileSync(scratch, bytes);
  const script = `
    import { FileStore } from ${JSON.stringify(new URL("./file.ts", import.meta.url).href)};
    const store = new FileStore(${JSON.stringify(`${root}/replica`)});
    await store.write({ level: 1, minTxid: 10n, maxTxid: 12n, createdAt: 0 }, {
      sizeBytes: 5000, localPath: ${JSON.stringify(scratch)}, movable: true,
      open: () => { throw new Error("streamed"); },
    });`;
  await Deno.writeTextFile(`${root}/write.ts`, script);
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", `--allow-read=${root}`, `--allow-write=${root}/replica`, `${root}/write.ts`],
    stderr: "piped",
  }).output();
  assert.ok(child.success, new TextDecoder().decode(child.stderr));
  const copied = store.pathOf({ ...ref, minTxid: 10n, maxTxid: 12n });
  assert.deepEqual(Deno.readFileSync(copied), bytes);
  assert.notEqual(Deno.statSync(copied).ino, Deno.statSync(scratch).ino, "copied");
  assert.deepEqual([...Deno.readDirSync(`${root}/replica/ltx/1`)].map((e) => e.name).sort(), [
    "0000000000000001-0000000000000009.ltx",
    "000000000000000a-000000000000000c.ltx",
  ]);
  await Deno.remove(root, { recursive: true });
});
