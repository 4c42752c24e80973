import assert from "node:assert/strict";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from "../../tests/helpers/azurite.ts";
import type { AbsSpec } from "../config/abs_url.ts";
import { NotFoundError, StorageError, UsageError } from "../util/errors.ts";
import { AbsStore, formatTimestamp, resolveAbsConnection } from "./abs.ts";
import { bytesBody, type WriteBody } from "./store.ts";
import { withRetries } from "./retry.ts";
import { runStoreConformance } from "./store_conformance.ts";
import { freePort } from "../../tests/helpers/s3_server.ts";
import { startFaultProxy } from "../../tests/helpers/fault_proxy.ts";
import { localFileBody } from "../../tests/helpers/local_file_body.ts";
import { orHung } from "../../tests/helpers/or_hung.ts";

// One server for the whole file; the last test stops it.
const azurite = await startAzurite();
const KEY_ENV = { LITESTREAM_AZURE_ACCOUNT_KEY: AZURITE_KEY };
const raw = new BlobServiceClient(
  azurite.endpoint,
  new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
);

let containerCount = 0;
async function newContainer(): Promise<string> {
  const name = `c${++containerCount}-${Date.now().toString(36)}`;
  await azurite.createContainer(name);
  return name;
}

function specFor(container: string, extra: Partial<AbsSpec> = {}): AbsSpec {
  return {
    type: "abs",
    accountName: AZURITE_ACCOUNT,
    container,
    path: "db",
    endpoint: azurite.endpoint,
    maxConnections: 5,
    ...extra,
  };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function patterned(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 11)) & 0xff;
  return out;
}

/** A body delivered in awkward chunk sizes, as a file read would. */
function chunkedBody(bytes: Uint8Array, chunk: number): WriteBody {
  return {
    sizeBytes: bytes.length,
    open: () => {
      let at = 0;
      return new ReadableStream({
        pull(controller) {
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(at, at + chunk));
          at += chunk;
        },
      });
    },
  };
}

function assertOneLine(err: unknown, ...secrets: string[]): asserts err is StorageError {
  assert.ok(err instanceof StorageError, `expected a StorageError, got ${err}`);
  assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
  for (const secret of secrets) {
    assert.ok(!`${err.message} ${err.hint}`.includes(secret), "no secret in the message");
  }
}

runStoreConformance("AbsStore", async () => new AbsStore(specFor(await newContainer()), { env: KEY_ENV }));

Deno.test("AbsStore writes Litestream's layout, metadata, tier and content type", async () => {
  const container = await newContainer();
  const store = new AbsStore(specFor(container), { env: KEY_ENV });
  const createdAt = Date.UTC(2026, 0, 2, 3, 4, 5, 670);
  await store.write({ level: 3, minTxid: 1n, maxTxid: 0x2an, createdAt }, bytesBody(patterned(9)));
  const blobs = [];
  for await (const b of raw.getContainerClient(container).listBlobsFlat({ includeMetadata: true })) {
    blobs.push(b);
  }
  assert.deepEqual(blobs.map((b) => b.name), ["db/ltx/3/0000000000000001-000000000000002a.ltx"]);
  assert.equal(blobs[0]!.metadata?.litestreamtimestamp, "2026-01-02T03:04:05.67Z");
  assert.equal(blobs[0]!.properties.accessTier, "Hot");
  assert.equal(blobs[0]!.properties.contentType, "application/octet-stream");
  assert.equal(store.describe(), `abs://${AZURITE_ACCOUNT}@${container}/db?endpoint=${azurite.endpoint}`);
});

Deno.test("formatTimestamp() writes Go's RFC3339Nano: trailing zeros trimmed", () => {
  assert.equal(formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), "2026-01-02T03:04:05Z");
  assert.equal(formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 50, 100)), "2026-01-02T03:04:50.1Z");
  assert.equal(formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), "2026-01-02T03:04:05.678Z");
});

Deno.test("AbsStore lists across pages, skips foreign blobs, and takes Litestream's timestamps", async () => {
  const container = await newContainer();
  const store = new AbsStore(specFor(container), { env: KEY_ENV, listPageSize: 7 });
  for (let txid = 1n; txid <= 23n; txid++) {
    await store.write({ level: 0, minTxid: txid, maxTxid: txid, createdAt: 1000 }, bytesBody(patterned(3)));
  }
  const client = raw.getContainerClient(container);
  await client.getBlockBlobClient("db/ltx/0/README").upload("x", 1);
  await client.getBlockBlobClient("db/ltx/0/sub/0000000000000001-0000000000000001.ltx").upload("x", 1);
  // Written by Litestream (Go, nanoseconds) and by a tool without metadata.
  await client.getBlockBlobClient("db/ltx/1/0000000000000001-0000000000000002.ltx").upload("xy", 2, {
    metadata: { litestreamtimestamp: "2026-03-04T05:06:07.123456789Z" },
  });
  await client.getBlockBlobClient("db/ltx/1/0000000000000003-0000000000000004.ltx").upload("xy", 2);
  const listed = await store.list(0);
  assert.deepEqual(listed.map((f) => f.minTxid), Array.from({ length: 23 }, (_, i) => BigInt(i + 1)));
  assert.ok(listed.every((f) => f.createdAt === 1000 && f.sizeBytes === 3));
  const level1 = await store.list(1);
  assert.equal(level1[0]!.createdAt, Date.UTC(2026, 2, 4, 5, 6, 7, 123));
  assert.ok(Math.abs(level1[1]!.createdAt - Date.now()) < 120_000, "creation time when no metadata");
});

Deno.test("AbsStore uploads a large body in parallel blocks and reads it back whole", async () => {
  const container = await newContainer();
  const proxy = startCountingProxy(azurite.port);
  try {
    const endpoint = `http://127.0.0.1:${proxy.port}/${AZURITE_ACCOUNT}`;
    const store = new AbsStore(specFor(container, { endpoint, maxConnections: 4 }), {
      env: KEY_ENV,
      blockSizeBytes: 256 << 10,
    });
    const data = patterned((5 << 20) + 123);
    const info = await store.write(
      { level: 9, minTxid: 1n, maxTxid: 5n, createdAt: 7 },
      chunkedBody(data, 100_003),
    );
    assert.equal(info.sizeBytes, data.length);
    const blob = raw.getContainerClient(container).getBlockBlobClient(
      "db/ltx/9/0000000000000001-0000000000000005.ltx",
    );
    const blocks = await blob.getBlockList("committed");
    assert.equal(blocks.committedBlocks?.length, 21);
    assert.ok(proxy.maxBlocksInFlight > 1, `parallel blocks (max in flight ${proxy.maxBlocksInFlight})`);
    assert.ok(proxy.maxBlocksInFlight <= 4, `at most max-connections (${proxy.maxBlocksInFlight})`);
    const back = await readAll(await store.open({ level: 9, minTxid: 1n, maxTxid: 5n }));
    assert.equal(back.length, data.length);
    assert.ok(back.every((b, i) => b === data[i]), "stored bytes equal the input");
    const range = await readAll(
      await store.open({ level: 9, minTxid: 1n, maxTxid: 5n }, { offset: 3 << 20 }),
    );
    assert.deepEqual(range, data.subarray(3 << 20));
  } finally {
    await proxy.close();
  }
});

Deno.test("AbsStore streams a local file's blocks from disk, again on a retry", async () => {
  const container = await newContainer();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: azurite.port });
  const dir = await Deno.makeTempDir();
  try {
    const endpoint = `${proxy.url}/${AZURITE_ACCOUNT}`;
    const store = new AbsStore(specFor(container, { endpoint, maxConnections: 3 }), {
      env: KEY_ENV,
      blockSizeBytes: 256 << 10,
    });
    const data = patterned((3 << 20) + 77);
    const body = await localFileBody(`${dir}/file.ltx`, data);
    // A quarter of the requests fail once their body is off the wire; the SDK sends those blocks again.
    proxy.setFaults({ errorRate: 0.25, seed: 11 });
    await store.write({ level: 9, minTxid: 1n, maxTxid: 6n, createdAt: 7 }, body);
    assert.ok(proxy.stats().errors > 0, JSON.stringify(proxy.stats()));
    assert.equal(body.paced(), 13, "each block waits for pace");
    proxy.clear();
    const blob = raw.getContainerClient(container).getBlockBlobClient(
      "db/ltx/9/0000000000000001-0000000000000006.ltx",
    );
    assert.equal((await blob.getBlockList("committed")).committedBlocks?.length, 13);
    assert.deepEqual(await readAll(await store.open({ level: 9, minTxid: 1n, maxTxid: 6n })), data);
    // A file of another size than announced is refused before any block goes up.
    const before = proxy.stats().requests;
    await assert.rejects(
      () =>
        store.write({ level: 9, minTxid: 1n, maxTxid: 7n, createdAt: 7 }, {
          ...body,
          sizeBytes: data.length - 1,
        }),
      /has 3145805 bytes, not the 3145804 announced/,
    );
    assert.equal(proxy.stats().requests, before);
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AbsStore: a block whose answer is cut off is sent again, and the blob is whole", async () => {
  // The proxy takes each cut block's whole body to Azurite, then closes the client's connection before
  // the answer. Deno's node:http used to send such a request again by itself, from the chunk buffers it
  // kept of the first attempt (since reused for later chunks), or hang with a streamed body.
  const container = await newContainer();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: azurite.port });
  const dir = await Deno.makeTempDir();
  try {
    const endpoint = `${proxy.url}/${AZURITE_ACCOUNT}`;
    const store = withRetries(
      new AbsStore(specFor(container, { endpoint, maxConnections: 3 }), {
        env: KEY_ENV,
        blockSizeBytes: 256 << 10,
      }),
      { baseDelayMs: 10 },
    );
    for (let round = 0; round < 3; round++) {
      const data = new Uint8Array((2 << 20) + round * 1000);
      for (let at = 0; at < data.length; at += 65_536) crypto.getRandomValues(data.subarray(at, at + 65_536));
      const body = await localFileBody(`${dir}/file-${round}.ltx`, data);
      const ref = { level: 9, minTxid: 1n, maxTxid: BigInt(round + 1), createdAt: 7 };
      proxy.setFaults({ resetRate: 0.3, seed: [12, 13, 3][round]! });
      const before = proxy.stats().resets;
      const outcome = await orHung(store.write(ref, body).then(() => "written"), 20_000);
      assert.equal(outcome, "written", `round ${round}`);
      assert.ok(proxy.stats().resets > before, `round ${round}: some answers were cut`);
      proxy.clear();
      assert.deepEqual(await readAll(await store.open(ref)), data, `round ${round}`);
    }
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AbsStore refuses a body that is not the announced size, and writes nothing", async () => {
  const container = await newContainer();
  const store = new AbsStore(specFor(container), { env: KEY_ENV, blockSizeBytes: 1024 });
  for (const [announced, actual] of [[10, 3], [10, 20], [5000, 4000], [5000, 6000]]) {
    const body = { sizeBytes: announced!, open: () => bytesBody(patterned(actual!)).open() };
    await assert.rejects(
      () => store.write({ level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 0 }, body),
      /bytes, not the \d+ announced/,
    );
  }
  assert.deepEqual(await store.list(0), []);
});

Deno.test("AbsStore names a missing container in one line, not retriable", async () => {
  const store = new AbsStore(specFor("no-such-container"), { env: KEY_ENV });
  for (
    const call of [
      () => store.list(0),
      () => store.write({ level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 0 }, bytesBody(patterned(5))),
      () => store.open({ level: 0, minTxid: 1n, maxTxid: 1n }),
    ]
  ) {
    const err = await call().then(() => undefined, (e) => e);
    assertOneLine(err, AZURITE_KEY);
    assert.ok(!(err instanceof NotFoundError));
    assert.match(err.message, /container "no-such-container" does not exist/);
    assert.equal(err.retriable, false);
    assert.match(err.hint ?? "", /create it/);
  }
});

Deno.test("AbsStore with a SAS token: round trip, batch delete, and the token never shows", async () => {
  const container = await newContainer();
  const sas = azurite.sasToken(container);
  const sig = new URLSearchParams(sas).get("sig")!;
  const store = new AbsStore(specFor(container, { accountName: undefined }), {
    env: { LITESTREAM_AZURE_SAS_TOKEN: `?${sas}`, LITESTREAM_AZURE_ACCOUNT_KEY: "bm90LXVzZWQ=" },
  });
  assert.equal(store.connection.auth.method, "sas");
  const refs = [1n, 2n, 3n].map((t) => ({ level: 0, minTxid: t, maxTxid: t }));
  for (const ref of refs) await store.write({ ...ref, createdAt: 5 }, bytesBody(patterned(40)));
  assert.deepEqual(await readAll(await store.open(refs[1]!)), patterned(40));
  await store.remove([...refs, { level: 0, minTxid: 9n, maxTxid: 9n }]);
  assert.deepEqual(await store.list(0), []);
  assert.ok(!store.describe().includes(sig));
  const missing = await store.open(refs[0]!).then(() => undefined, (e) => e);
  assert.ok(missing instanceof NotFoundError);
  assertOneLine(missing, sig, sas);

  // A token for another container is refused: 403, not retriable, with a hint and without the token.
  const other = new AbsStore(specFor(await newContainer(), { sasToken: sas }), { env: {} });
  const denied = await other.list(0).then(() => undefined, (e) => e);
  assertOneLine(denied, sig, sas);
  assert.match(denied.message, /access denied/);
  assert.equal(denied.retriable, false);
  assert.match(denied.hint ?? "", /SAS token/);
});

Deno.test("AbsStore with a wrong account key: access denied in one line, key not shown", async () => {
  const wrongKey = btoa("not the right key, but well formed base64 of 64 bytes.............");
  const store = new AbsStore(specFor(await newContainer()), { env: { AZURE_STORAGE_KEY: wrongKey } });
  const err = await store.list(0).then(() => undefined, (e) => e);
  assertOneLine(err, wrongKey, AZURITE_KEY);
  assert.match(err.message, /access denied/);
  assert.equal(err.retriable, false);
});

Deno.test("resolveAbsConnection() follows Litestream's order, then Stash's variables", () => {
  const spec: AbsSpec = { type: "abs", container: "c1", path: "", maxConnections: 5 };
  const auth = (s: Partial<AbsSpec>, env: Record<string, string>) => {
    const c = resolveAbsConnection({ ...spec, accountName: "acct", ...s }, env);
    return c.auth.method === "default" ? "default" : `${c.auth.method}:${c.auth.source}`;
  };
  const all = {
    LITESTREAM_AZURE_SAS_TOKEN: "sv=1",
    LITESTREAM_AZURE_ACCOUNT_KEY: "k1",
    AZURE_STORAGE_KEY: "k2",
    AZURE_ACCOUNT_KEY: "k3",
  };
  assert.equal(auth({ sasToken: "sv=0", accountKey: "k0" }, all), "sas:sas-token");
  assert.equal(auth({ accountKey: "k0" }, all), "sas:LITESTREAM_AZURE_SAS_TOKEN");
  assert.equal(
    auth({ accountKey: "k0" }, { ...all, LITESTREAM_AZURE_SAS_TOKEN: "" }),
    "shared-key:account-key",
  );
  const { LITESTREAM_AZURE_SAS_TOKEN: _, ...keys } = all;
  assert.equal(auth({}, keys), "shared-key:LITESTREAM_AZURE_ACCOUNT_KEY");
  assert.equal(
    auth({}, { AZURE_STORAGE_KEY: "k2", AZURE_ACCOUNT_KEY: "k3" }),
    "shared-key:AZURE_STORAGE_KEY",
  );
  assert.equal(auth({}, { AZURE_ACCOUNT_KEY: "k3" }), "shared-key:AZURE_ACCOUNT_KEY");
  assert.equal(auth({}, {}), "default");

  // The account: the spec, then Stash's AZURE_ACCOUNT_NAME, then AZURE_STORAGE_ACCOUNT, then the endpoint.
  const account = (s: Partial<AbsSpec>, env: Record<string, string>) =>
    resolveAbsConnection({ ...spec, ...s }, env);
  const stash = account({}, {
    AZURE_ACCOUNT_NAME: "stash",
    AZURE_ACCOUNT_KEY: "k",
    AZURE_STORAGE_ACCOUNT: "cli",
  });
  assert.equal(stash.endpoint, "https://stash.blob.core.windows.net");
  assert.deepEqual(stash.auth, {
    method: "shared-key",
    accountName: "stash",
    accountKey: "k",
    source: "AZURE_ACCOUNT_KEY",
  });
  assert.equal(account({}, { AZURE_STORAGE_ACCOUNT: "cli" }).accountName, "cli");
  assert.equal(account({ accountName: "url" }, { AZURE_ACCOUNT_NAME: "stash" }).accountName, "url");
  assert.equal(
    account({ endpoint: "http://127.0.0.1:1/devstoreaccount1" }, { AZURE_STORAGE_KEY: "k" }).accountName,
    "devstoreaccount1",
  );
  assert.equal(account({ endpoint: "https://acct2.blob.core.usgovcloudapi.net" }, {}).accountName, "acct2");

  assert.throws(() => account({}, {}), UsageError);
  assert.throws(
    () => account({ endpoint: "http://127.0.0.1:1" }, { LITESTREAM_AZURE_ACCOUNT_KEY: "k" }),
    (e: unknown) =>
      e instanceof UsageError && /no account name/.test(e.message) && !e.message.includes('"k"'),
  );
  const custom = account({ accountName: "a" }, { AZURE_AUTHORITY_HOST: "https://login.example.test" }).auth;
  assert.deepEqual(custom, { method: "default", customAuthority: true });
  const publicCloud = account({ accountName: "a" }, {
    AZURE_AUTHORITY_HOST: "https://login.microsoftonline.us",
  });
  assert.deepEqual(publicCloud.auth, { method: "default", customAuthority: false });
});

Deno.test("AbsStore refuses Azure AD sign-in over plain http", () => {
  assert.throws(
    () => new AbsStore(specFor("c"), { env: {} }),
    (e: unknown) =>
      e instanceof UsageError && /Azure AD needs https/.test(e.message) && /Azurite/.test(e.hint ?? ""),
  );
});

/** Runs `fn` with the Azure identity variables of this process removed, as on a machine with none. */
async function withoutAzureEnv<T>(extra: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.entries(Deno.env.toObject()).filter(([k]) => /^(AZURE_|IDENTITY_|MSI_|IMDS_)/.test(k));
  for (const [k] of saved) Deno.env.delete(k);
  for (const [k, v] of Object.entries(extra)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(extra)) Deno.env.delete(k);
    for (const [k, v] of saved) Deno.env.set(k, v);
  }
}

Deno.test({
  name: "AbsStore with no credential at all: one line naming what was tried, within seconds",
  // The credential chain's probes (IMDS, CLIs) may leave timers behind after failing.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withoutAzureEnv({}, async () => {
      const endpoint = `https://127.0.0.1:${azurite.port}/${AZURITE_ACCOUNT}`;
      const store = new AbsStore(specFor("c", { endpoint }), { env: {} });
      assert.equal(store.connection.auth.method, "default");
      const started = Date.now();
      const err = await store.list(0).then(() => undefined, (e) => e);
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
      assertOneLine(err);
      assert.match(err.message, /no sas-token.*no account-key.*DefaultAzureCredential found none/);
      assert.equal(err.retriable, false);
      assert.match(err.hint ?? "", /LITESTREAM_AZURE_ACCOUNT_KEY.*az login/);
    }),
});

Deno.test({
  name: "AbsStore gives up on a token endpoint that never answers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // A managed-identity endpoint that accepts connections and says nothing.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })().catch(() => {});
    const { port } = listener.addr as Deno.NetAddr;
    try {
      await withoutAzureEnv({ AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${port}` }, async () => {
        const endpoint = `https://127.0.0.1:${azurite.port}/${AZURITE_ACCOUNT}`;
        const store = new AbsStore(specFor("c", { endpoint }), { env: {}, tokenTimeoutMs: 1000 });
        const started = Date.now();
        const err = await store.list(0).then(() => undefined, (e) => e);
        assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
        assertOneLine(err);
        assert.match(err.message, /no token within 1s/);
      });
    } finally {
      listener.close();
      for (const conn of held) conn.close();
      await accepting;
    }
  },
});

Deno.test("AbsStore reads by a signed URL: partial ranges, and a refused connection names neither key nor SAS", async () => {
  const container = await newContainer();
  for (const env of [KEY_ENV, { LITESTREAM_AZURE_SAS_TOKEN: azurite.sasToken(container) }]) {
    const store = new AbsStore(specFor(container), { env });
    const ref = { level: 0, minTxid: 7n, maxTxid: 7n };
    await store.write({ ...ref, createdAt: 0 }, bytesBody(patterned(5000)));
    assert.deepEqual(await readAll(await store.open(ref, { offset: 4000 })), patterned(5000).subarray(4000));
    assert.deepEqual(
      await readAll(await store.open(ref, { offset: 10, length: 20 })),
      patterned(30).subarray(10),
    );
    const dead = new AbsStore(
      specFor(container, { endpoint: `http://127.0.0.1:${freePort()}/${AZURITE_ACCOUNT}` }),
      {
        env,
      },
    );
    await assert.rejects(() => dead.open(ref), (err: unknown) => {
      assert.ok(err instanceof StorageError && err.retriable, String(err));
      assert.match(err.message, /network error/);
      assert.ok(!/sig=|se=/.test(err.message) && !err.message.includes(AZURITE_KEY), err.message);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("AbsStore: a signed-URL body cut short is a retriable error naming the blob, never the SAS", async () => {
  const container = await newContainer();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: azurite.port });
  try {
    const store = new AbsStore(specFor(container, { endpoint: `${proxy.url}/${AZURITE_ACCOUNT}` }), {
      env: KEY_ENV,
    });
    const ref = { level: 0, minTxid: 8n, maxTxid: 8n };
    await store.write({ ...ref, createdAt: 0 }, bytesBody(patterned(1 << 20)));
    proxy.setFaults({ resetRate: 1 });
    await assert.rejects(async () => await readAll(await store.open(ref)), (err: unknown) => {
      assert.ok(err instanceof StorageError && err.retriable, String(err));
      assert.match(err.message, /^Cannot read "db\/ltx\/0\/0000000000000008-0000000000000008\.ltx" in abs:/);
      assert.ok(!/sig=[^R]/.test(err.message) && !err.message.includes(AZURITE_KEY), err.message);
      return true;
    });
  } finally {
    await proxy.close();
  }
});

Deno.test("AbsStore: a local file cut short while its block streams fails the upload at once, not the process", async () => {
  const container = await newContainer();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/file.ltx`;
  let blocks = 0;
  // When the third block's request arrives, the file loses its end: that block can no longer be read whole.
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: azurite.port }, {}, (r) => {
    if (r.method === "PUT" && r.target.includes("comp=block") && ++blocks === 3) {
      Deno.truncateSync(path, 2 * (256 << 10) + 1000);
    }
  });
  try {
    const store = new AbsStore(
      specFor(container, { endpoint: `${proxy.url}/${AZURITE_ACCOUNT}`, maxConnections: 1 }),
      { env: KEY_ENV, blockSizeBytes: 256 << 10 },
    );
    const body = await localFileBody(path, patterned(5 * (256 << 10)));
    const started = Date.now();
    await assert.rejects(
      () => store.write({ level: 9, minTxid: 1n, maxTxid: 0x72n, createdAt: 0 }, body),
      // The SDK reports the failed body as a send error (REQUEST_SEND_ERROR), which a retry repeats.
      (err: unknown) => err instanceof StorageError && /network error/.test(err.message),
    );
    assert.ok(Date.now() - started < 10_000, "the request waited for the rest of its body");
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "stop Azurite",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => azurite.stop(),
});

/** An HTTP forwarder in front of Azurite that counts how many block uploads are in flight at once. */
function startCountingProxy(upstreamPort: number) {
  let active = 0;
  const state = { port: 0, maxBlocksInFlight: 0, close: () => server.shutdown() };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const isBlock = url.searchParams.get("comp") === "block";
    if (isBlock) state.maxBlocksInFlight = Math.max(state.maxBlocksInFlight, ++active);
    try {
      const headers = new Headers(req.headers);
      headers.delete("host");
      headers.delete("content-length");
      const body = req.body ? await req.arrayBuffer() : undefined;
      // Long enough that blocks sent in parallel overlap here.
      if (isBlock) await new Promise((r) => setTimeout(r, 40));
      const res = await fetch(`http://127.0.0.1:${upstreamPort}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body,
      });
      return new Response(res.body, { status: res.status, headers: res.headers });
    } finally {
      if (isBlock) active--;
    }
  });
  state.port = server.addr.port;
  return state;
}
