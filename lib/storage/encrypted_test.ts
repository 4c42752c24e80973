import assert from "node:assert/strict";
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { join } from "node:path";
import type { AgeKeys } from "../config/age_keys.ts";
import { CorruptionError, StorageError, WalshipError } from "../util/errors.ts";
import { readAllBytes } from "../util/streams.ts";
import { ciphertextBytes, plaintextBytes } from "./encrypted.ts";
import { withEncryption } from "./encryption.ts";
import { FileStore } from "./file.ts";
import { withRetries } from "./retry.ts";
import { bytesBody, type LtxFileRef, type ReplicaStore } from "./store.ts";

const IDENTITY = await generateIdentity();
const RECIPIENT = await identityToRecipient(IDENTITY);
const ref = (txid: bigint, level = 0) => ({ level, minTxid: txid, maxTxid: txid });

function ltxLike(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size).map((_, i) => (i * 131 + seed * 7) & 0xff);
  out.set(new TextEncoder().encode("LTX1").subarray(0, size));
  return out;
}

async function tempStore(): Promise<{ dir: string; inner: FileStore }> {
  const dir = await Deno.makeTempDir({ prefix: "walship-enc-" });
  return { dir, inner: new FileStore(dir) };
}

function pathOf(dir: string, file: LtxFileRef): string {
  const hex = (t: bigint) => t.toString(16).padStart(16, "0");
  return join(dir, "ltx", String(file.level), `${hex(file.minTxid)}-${hex(file.maxTxid)}.ltx`);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  assert.fail("expected a rejection");
}

Deno.test("plaintextBytes() inverts ciphertextBytes() at every chunk boundary, and rejects impossible sizes", () => {
  for (const n of [0, 1, 100, 65535, 65536, 65537, 131072, 131073, 10_000_000]) {
    assert.equal(plaintextBytes(ciphertextBytes(n)), n, `size ${n}`);
  }
  assert.equal(ciphertextBytes(0), 16);
  assert.equal(ciphertextBytes(65536), 65552);
  assert.equal(ciphertextBytes(65537), 65537 + 32);
  for (const bad of [0, 15, 65552 + 5, 65552 + 16]) assert.equal(plaintextBytes(bad), null, `size ${bad}`);
});

Deno.test("withEncryption() round-trips files at chunk boundaries; listed sizes are stored and LTX sizes", async () => {
  const { dir, inner } = await tempStore();
  const store = withEncryption(inner, { recipients: [RECIPIENT], identities: [IDENTITY] });
  const sizes = [100, 65536, 65537, 200_000];
  for (const [i, size] of sizes.entries()) {
    const written = await store.write(
      { ...ref(BigInt(i + 1)), createdAt: 1000 + i },
      bytesBody(ltxLike(size, i)),
    );
    const onDisk = (await Deno.stat(pathOf(dir, ref(BigInt(i + 1))))).size;
    assert.equal(written.sizeBytes, onDisk);
    assert.equal(written.ltxSizeBytes, size);
  }
  const listed = await store.list(0);
  assert.deepEqual(listed.map((f) => f.ltxSizeBytes), sizes);
  for (const [i, f] of listed.entries()) {
    assert.ok(f.sizeBytes > sizes[i]!, "stored size includes age's overhead");
    assert.deepEqual(await readAllBytes(await store.open(f)), ltxLike(sizes[i]!, i));
  }
  // A resumed download: any offset, in any chunk, with or without a length.
  const whole = ltxLike(200_000, 3);
  for (const range of [{ offset: 70_000, length: 100 }, { offset: 65_536 }, { offset: 1, length: 131_072 }]) {
    const part = await readAllBytes(await store.open(ref(4n), range));
    const end = range.length === undefined ? undefined : range.offset + range.length;
    assert.deepEqual(part, whole.subarray(range.offset, end));
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("withEncryption() writes standard age files, and reads typage's own passphrase files", async () => {
  const { dir, inner } = await tempStore();
  const data = ltxLike(150_000);
  await withEncryption(inner, { recipients: [RECIPIENT], identities: [] })
    .write({ ...ref(1n), createdAt: 1 }, bytesBody(data));
  const byKey = new Decrypter();
  byKey.addIdentity(IDENTITY);
  assert.deepEqual(await byKey.decrypt(await Deno.readFile(pathOf(dir, ref(1n)))), data);

  const passphrase = { recipients: [], identities: [], passphrase: "correct horse battery" };
  const store = withEncryption(inner, passphrase);
  await store.write({ ...ref(2n), createdAt: 1 }, bytesBody(data));
  await store.write({ ...ref(3n), createdAt: 1 }, bytesBody(data));
  const byPassphrase = new Decrypter();
  byPassphrase.addPassphrase(passphrase.passphrase);
  const raw2 = await Deno.readFile(pathOf(dir, ref(2n)));
  assert.deepEqual(await byPassphrase.decrypt(raw2), data);
  // One scrypt salt per writer (one derivation), a fresh file key and header MAC per file.
  const header = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(0, 120)).split("\n");
  const raw3 = await Deno.readFile(pathOf(dir, ref(3n)));
  assert.match(header(raw2)[1]!, /^-> scrypt \S{22} 18$/);
  assert.equal(header(raw2)[1], header(raw3)[1]);
  assert.notEqual(header(raw2)[2], header(raw3)[2]);

  const foreign = new Encrypter();
  foreign.setPassphrase(passphrase.passphrase);
  foreign.setScryptWorkFactor(10);
  await Deno.writeFile(pathOf(dir, ref(4n)), await foreign.encrypt(data));
  assert.deepEqual(await readAllBytes(await withEncryption(inner, passphrase).open(ref(4n))), data);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("withEncryption() refuses: no key, a key on plaintext, a wrong key, a write-only store", async () => {
  const { dir, inner } = await tempStore();
  await withEncryption(inner, { recipients: [RECIPIENT], identities: [] })
    .write({ ...ref(1n), createdAt: 1 }, bytesBody(ltxLike(500)));
  await inner.write({ ...ref(2n), createdAt: 1 }, bytesBody(ltxLike(500)));

  const noKey = await rejection(withEncryption(inner).open(ref(1n)));
  assert.ok(noKey instanceof WalshipError && !(noKey instanceof StorageError));
  assert.match(noKey.message, /L0 0000000000000001-0000000000000001: the replica is encrypted with age$/);
  assert.match(noKey.hint!, /-age-identity-file/);
  assert.deepEqual(await readAllBytes(await withEncryption(inner).open(ref(2n))), ltxLike(500));

  const keys: AgeKeys = { recipients: [], identities: [IDENTITY] };
  const onPlain = await rejection(withEncryption(inner, keys).open(ref(2n)));
  assert.match(onPlain.message, /is not encrypted, but age keys were given/);

  const otherKey = { recipients: [], identities: [await generateIdentity()] };
  const wrong = await rejection(withEncryption(inner, otherKey).open(ref(1n)));
  assert.ok(wrong instanceof WalshipError && !(wrong instanceof CorruptionError));
  assert.match(wrong.message, /^Cannot decrypt .*: no given identity or passphrase matches it$/);
  const wrongPassphrase = { recipients: [], identities: [], passphrase: "not it" };
  const byPassphrase = await rejection(withEncryption(inner, wrongPassphrase).open(ref(1n)));
  assert.match(byPassphrase.message, /no given identity or passphrase matches it/);

  const writeOnly = await rejection(
    withEncryption(inner, { recipients: [RECIPIENT], identities: [] }).open(ref(1n)),
  );
  assert.match(writeOnly.message, /age recipients encrypt but cannot decrypt/);
  for (const err of [noKey, onPlain, wrong, byPassphrase, writeOnly]) {
    assert.ok(!err.message.includes(IDENTITY) && !err.message.includes("\n"), err.message);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("withEncryption() reports a modified header or payload as corruption, never as plaintext", async () => {
  const { dir, inner } = await tempStore();
  const store = withEncryption(inner, { recipients: [], identities: [IDENTITY] });
  await store.write({ ...ref(1n), createdAt: 1 }, bytesBody(ltxLike(200_000)));
  const path = pathOf(dir, ref(1n));
  const original = await Deno.readFile(path);

  const payload = original.slice();
  payload[payload.length - 70_000]! ^= 1; // inside the third chunk: the first ones still pass
  await Deno.writeFile(path, payload);
  const midStream = await rejection(readAllBytes(await store.open(ref(1n))));
  assert.ok(midStream instanceof CorruptionError);
  assert.match(midStream.message, /the ciphertext is damaged or was modified$/);

  const header = original.slice();
  const mac = new TextDecoder("latin1").decode(original.subarray(0, 300)).indexOf("\n--- ") + 5;
  header[mac] = header[mac] === 65 ? 66 : 65; // another base64 letter: a well-formed but wrong MAC
  await Deno.writeFile(path, header);
  const headerErr = await rejection(store.open(ref(1n)));
  assert.ok(headerErr instanceof CorruptionError);
  assert.match(headerErr.message, /its age header is damaged or was modified$/);

  await Deno.writeFile(path, new TextEncoder().encode("not an LTX or age file at all"));
  assert.match((await rejection(store.open(ref(1n)))).message, /not an age file/);
  await Deno.remove(dir, { recursive: true });
});

/** A file store whose first write fails after reading its whole body, and whose reads break once. */
function flaky(inner: ReplicaStore): ReplicaStore & { writes: number } {
  const flakyStore = {
    writes: 0,
    list: inner.list.bind(inner),
    remove: inner.remove.bind(inner),
    describe: inner.describe.bind(inner),
    async write(...args: Parameters<ReplicaStore["write"]>) {
      if (flakyStore.writes++ === 0) {
        await readAllBytes(args[1].open());
        throw new StorageError("connection reset", { retriable: true });
      }
      return await inner.write(...args);
    },
    async open(...args: Parameters<ReplicaStore["open"]>) {
      const reader = (await inner.open(...args)).getReader();
      let chunks = 0;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (chunks++ === 1) throw new StorageError("socket hang up", { retriable: true });
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value.subarray(0, 70_000));
        },
      });
    },
  };
  return flakyStore;
}

Deno.test("withEncryption() re-encrypts a retried upload; a store fault mid-read passes through as is", async () => {
  const { dir, inner } = await tempStore();
  const failing = flaky(inner);
  const store = withEncryption(withRetries(failing, { sleep: () => Promise.resolve() }), {
    recipients: [],
    identities: [IDENTITY],
  });
  await store.write({ ...ref(1n), createdAt: 1 }, bytesBody(ltxLike(300_000)));
  assert.equal(failing.writes, 2);
  const reading = await rejection(readAllBytes(await store.open(ref(1n))));
  assert.ok(reading instanceof StorageError && reading.retriable, `${reading}`);
  assert.equal(reading.message, "socket hang up");
  assert.deepEqual(
    await readAllBytes(await withEncryption(inner, { recipients: [], identities: [IDENTITY] }).open(ref(1n))),
    ltxLike(300_000),
  );
  await Deno.remove(dir, { recursive: true });
});
