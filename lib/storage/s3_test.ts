import assert from "node:assert/strict";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { parseS3Url, type S3Spec } from "../config/s3_url.ts";
import { NotFoundError, StorageError } from "../util/errors.ts";
import { Logger } from "../util/log.ts";
import { type SeenRequest, startFaultProxy } from "../../tests/helpers/fault_proxy.ts";
import { localFileBody } from "../../tests/helpers/local_file_body.ts";
import { createHash } from "node:crypto";
import { startS3Server } from "../../tests/helpers/s3_server.ts";
import { formatLtxTimestamp, parseLtxTimestamp, S3Store, type S3StoreOptions } from "./s3.ts";
import { s3Credentials } from "./s3_client.ts";
import { s3Failure } from "./s3_errors.ts";
import { MAX_PARTS, partSizeFor } from "./s3_multipart.ts";
import { bytesBody, type WriteBody } from "./store.ts";
import { withRetries } from "./retry.ts";
import { runStoreConformance } from "./store_conformance.ts";

// One server for the whole file (each test gets its own bucket); the unload handler and the server's
// stdin watchdog make sure it goes away with this process.
const server = await startS3Server();
globalThis.addEventListener("unload", () => server.kill());
const ENV = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey };
let buckets = 0;

async function newStore(
  fields: Partial<S3Spec> = {},
  options: S3StoreOptions = {},
  endpoint = server.endpoint,
): Promise<S3Store> {
  const bucket = `bkt-${++buckets}`;
  await server.createBucket(bucket);
  return new S3Store({ ...parseS3Url(`s3://${bucket}/db?endpoint=${endpoint}`), ...fields }, {
    env: ENV,
    ...options,
  });
}

/** A body that arrives in 64 KiB chunks, as a file read would. */
function chunkedBody(bytes: Uint8Array, sizeBytes = bytes.length): WriteBody {
  return {
    sizeBytes,
    open: () =>
      new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 65536) controller.enqueue(bytes.slice(at, at + 65536));
          controller.close();
        },
      }),
  };
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function objectPath(bucket: string, key: string): string {
  return `${server.dataDir}/${bucket}/${key}._S3rver_object`;
}

runStoreConformance("S3Store", () => newStore({}, { timestamps: "metadata" }));

Deno.test("S3Store.list() pages past 1,000 files with one request per page", async () => {
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  try {
    // Written straight to the server; only the listing goes through the counting proxy.
    const direct = await newStore();
    const store = new S3Store({ ...direct.spec, endpoint: proxy.url }, { env: ENV });
    const started = Date.now();
    const count = 1005;
    let next = 1;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next <= count) {
        const txid = BigInt(next++);
        await direct.write(
          { level: 2, minTxid: txid, maxTxid: txid, createdAt: 1 },
          bytesBody(new Uint8Array(10)),
        );
      }
    }));
    const before = proxy.stats().requests;
    const files = await store.list(2);
    assert.equal(proxy.stats().requests - before, 2, "two ListObjectsV2 pages, no HEADs");
    assert.equal(files.length, count);
    assert.deepEqual(files.map((f) => Number(f.minTxid)), Array.from({ length: count }, (_, i) => i + 1));
    // The default takes LastModified (whole seconds), not the metadata: the upload time.
    assert.ok(files.every((f) => f.createdAt >= started - 1000 && f.createdAt <= Date.now()));
    assert.deepEqual(await store.list(1), []);
  } finally {
    await proxy.close();
  }
});

Deno.test("S3Store stores the exact bytes of a streamed LTX file, with litestream-timestamp", async () => {
  const store = await newStore();
  const ltx = await Deno.readFile(
    new URL("../../tests/fixtures/v052/snapshot-checksum.ltx", import.meta.url),
  );
  const createdAt = Date.UTC(2026, 0, 2, 3, 4, 5, 670);
  await store.write({ level: 9, minTxid: 1n, maxTxid: 2n, createdAt }, chunkedBody(ltx));
  const key = "db/0009/0000000000000001-0000000000000002.ltx";
  assert.deepEqual(await Deno.readFile(objectPath(store.spec.bucket, key)), ltx, "no aws-chunked framing");
  const client = server.client();
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: store.spec.bucket, Key: key }));
    assert.equal(head.Metadata?.["litestream-timestamp"], "2026-01-02T03:04:05.67Z");
    assert.equal(head.ContentLength, ltx.length);
  } finally {
    client.destroy();
  }
});

Deno.test("S3Store uploads a body above the part size in parts, byte for byte", async () => {
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  try {
    const store = await newStore({ partSize: 5 * 1024 * 1024, concurrency: 2 }, {}, proxy.url);
    const data = randomBytes(11 * 1024 * 1024 + 123);
    const ref = { level: 9, minTxid: 1n, maxTxid: 0x20n, createdAt: Date.now() };
    const before = proxy.stats().requests;
    const info = await store.write(ref, chunkedBody(data));
    assert.equal(proxy.stats().requests - before, 6, "create, three parts, complete, a HEAD of the size");
    assert.equal(info.sizeBytes, data.length);
    assert.deepEqual(await readAll(await store.open(ref)), data);
    const key = "db/0009/0000000000000001-0000000000000020.ltx";
    assert.deepEqual(await Deno.readFile(objectPath(store.spec.bucket, key)), data);
    // Exactly the part size still goes up in one PUT.
    const one = { level: 9, minTxid: 1n, maxTxid: 0x21n, createdAt: 0 };
    const single = proxy.stats().requests;
    await store.write(one, chunkedBody(data.subarray(0, 5 * 1024 * 1024)));
    assert.equal(proxy.stats().requests - single, 1);
    // A body shorter than announced fails and leaves no object behind.
    const short = { level: 9, minTxid: 1n, maxTxid: 0x30n, createdAt: 0 };
    await assert.rejects(() => store.write(short, chunkedBody(data, data.length + 1)), /announced/);
    // So does one longer than announced, and the upload is aborted (a DELETE with its upload id).
    const long = { level: 9, minTxid: 1n, maxTxid: 0x31n, createdAt: 0 };
    const deletes = proxy.counts().byMethod.DELETE ?? 0;
    await assert.rejects(() => store.write(long, chunkedBody(data, data.length - 1)), /announced/);
    assert.equal((proxy.counts().byMethod.DELETE ?? 0) - deletes, 1, "abort multipart upload");
    assert.deepEqual((await store.list(9)).map((f) => f.maxTxid), [0x20n, 0x21n]);
  } finally {
    await proxy.close();
  }
});

Deno.test("S3Store streams a local file's parts from disk: a signed SHA-256 or else a Content-MD5 per part, Content-Length, no chunking", async () => {
  const seen: SeenRequest[] = [];
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port }, {}, (r) => seen.push(r));
  const dir = await Deno.makeTempDir();
  try {
    const store = await newStore({ partSize: 5 * 1024 * 1024, concurrency: 2 }, {}, proxy.url);
    const data = randomBytes(11 * 1024 * 1024 + 123);
    const body = await localFileBody(`${dir}/file.ltx`, data);
    const ref = { level: 9, minTxid: 1n, maxTxid: 0x50n, createdAt: Date.now() };
    await store.write(ref, body);
    assert.equal(body.paced(), 3, "each part waits for pace");
    const key = "db/0009/0000000000000001-0000000000000050.ltx";
    assert.deepEqual(await Deno.readFile(objectPath(store.spec.bucket, key)), data);
    const parts = seen.filter((r) => r.method === "PUT" && r.target.includes("partNumber="));
    const hashes = parts.map((r) => [
      Number(/partNumber=(\d+)/.exec(r.target)![1]),
      r.headers.get("x-amz-content-sha256"),
      r.headers.get("content-md5"),
    ]);
    const partSize = 5 * 1024 * 1024;
    const expected = [0, 1, 2].map((i) => [
      i + 1,
      createHash("sha256").update(data.subarray(i * partSize, (i + 1) * partSize)).digest("hex"),
      undefined, // the signed SHA-256 already lets the server check the bytes
    ]);
    assert.deepEqual(hashes.sort(), expected);
    for (const part of parts) {
      assert.equal(part.headers.get("transfer-encoding"), undefined);
      assert.ok(Number(part.headers.get("content-length")) > 0);
    }
    // Keys that may not read (HEAD answered 403) still upload: the size check is skipped.
    proxy.setFaults({ deniedMethods: ["HEAD"] });
    await store.write({ ...ref, maxTxid: 0x53n }, body);
    proxy.clear();
    assert.equal((await store.list(9)).find((f) => f.maxTxid === 0x53n)?.sizeBytes, data.length);
    // Unsigned payloads carry no SHA-256, still the Content-MD5; a file of another size than announced is
    // refused at once.
    const unsigned = await newStore({ partSize, signPayload: false }, {}, proxy.url);
    seen.length = 0;
    await unsigned.write({ ...ref, maxTxid: 0x51n }, body);
    assert.ok(
      seen.filter((r) => r.target.includes("partNumber=")).every((r) =>
        r.headers.get("x-amz-content-sha256") === "UNSIGNED-PAYLOAD" &&
        r.headers.get("content-md5")?.length === 24
      ),
    );
    seen.length = 0;
    await assert.rejects(
      () => store.write({ ...ref, maxTxid: 0x52n }, { ...body, sizeBytes: data.length + 1 }),
      /has 11534459 bytes, not the 11534460 announced/,
    );
    assert.equal(seen.length, 2, "create and abort, no part");
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store: a streamed part is sent afresh when the SDK retries it", async () => {
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  const dir = await Deno.makeTempDir();
  try {
    const store = await newStore(
      { partSize: 5 * 1024 * 1024, concurrency: 1 },
      { maxAttempts: 8 },
      proxy.url,
    );
    const data = randomBytes(10 * 1024 * 1024 + 5);
    const path = `${dir}/file.ltx`;
    await Deno.writeFile(path, data);
    const ref = { level: 9, minTxid: 1n, maxTxid: 0x60n, createdAt: 0 };
    // Half the requests fail after their body was taken off the wire, so parts go again.
    proxy.setFaults({ errorRate: 0.5, seed: 7 });
    await store.write(ref, { sizeBytes: data.length, localPath: path, open: () => assert.fail("streamed") });
    // With this seed the third part fails three times before it goes through.
    assert.ok(proxy.stats().errors >= 3, JSON.stringify(proxy.stats()));
    proxy.clear();
    assert.deepEqual(await readAll(await store.open(ref)), data);
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store: an object stored shorter than uploaded is a retriable error, not a success", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await newStore({ partSize: 5 * 1024 * 1024, concurrency: 1 });
    const data = randomBytes(11 * 1024 * 1024);
    const path = `${dir}/file.ltx`;
    await Deno.writeFile(path, data);
    const uploads = `${server.dataDir}/${store.spec.bucket}/._S3rver_uploads`;
    let parts = 0;
    // Before the third part goes, cut the second one short on the server's disk, as s3rver does when it
    // answers a part before it has written all of it.
    const pace = async () => {
      if (++parts < 3) return;
      for await (const upload of Deno.readDir(uploads)) {
        await Deno.truncate(`${uploads}/${upload.name}/2`, 1000);
      }
    };
    const ref = { level: 9, minTxid: 1n, maxTxid: 0x70n, createdAt: 0 };
    await assert.rejects(
      () =>
        store.write(ref, {
          sizeBytes: data.length,
          localPath: path,
          open: () => assert.fail("streamed"),
          pace,
        }),
      (err: unknown) => {
        assert.ok(err instanceof StorageError && err.retriable, String(err));
        assert.match(err.message, /stored 6292456 of the 11534336 bytes uploaded/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store: a part that keeps failing aborts the upload and leaves no object", async () => {
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  try {
    const store = await newStore(
      { partSize: 5 * 1024 * 1024, concurrency: 2 },
      { maxAttempts: 1 },
      proxy.url,
    );
    const data = randomBytes(11 * 1024 * 1024);
    const ref = { level: 9, minTxid: 1n, maxTxid: 0x40n, createdAt: 0 };
    let calls = 0;
    const failing: WriteBody = {
      sizeBytes: data.length,
      open: () =>
        new ReadableStream({
          pull(controller) {
            // The second part's bytes arrive after the first part is on its way: then every request fails.
            if (calls++ === 6) proxy.setFaults({ errorRate: 1 });
            const at = (calls - 1) * 1024 * 1024;
            if (at >= data.length) controller.close();
            else controller.enqueue(data.slice(at, at + 1024 * 1024));
          },
        }),
    };
    await assert.rejects(() => store.write(ref, failing), (err: unknown) => {
      assert.ok(err instanceof StorageError && err.retriable, String(err));
      assert.match(err.message, /InternalError/);
      return true;
    });
    proxy.clear();
    assert.deepEqual(await store.list(9), []);
  } finally {
    await proxy.close();
  }
});

Deno.test("partSizeFor keeps the configured size up to 10,000 parts, then grows in whole MiB", () => {
  const mib = 1024 * 1024;
  assert.equal(partSizeFor(10 * mib, 5 * mib), 5 * mib);
  assert.equal(partSizeFor(MAX_PARTS * 5 * mib, 5 * mib), 5 * mib);
  const big = 100 * 1024 * mib;
  const size = partSizeFor(big, 5 * mib);
  assert.equal(size % mib, 0);
  assert.ok(Math.ceil(big / size) <= MAX_PARTS && size < 12 * mib, String(size));
  assert.equal(partSizeFor(1, 1024), 5 * mib, "S3's minimum part size");
});

Deno.test("S3Store: a missing bucket is one clear, final error naming it", async () => {
  const store = new S3Store(parseS3Url(`s3://no-such-bucket/db?endpoint=${server.endpoint}`), { env: ENV });
  for (
    const call of [
      () => store.list(0),
      () => store.write({ level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 0 }, bytesBody(new Uint8Array(5))),
      () => store.open({ level: 0, minTxid: 1n, maxTxid: 1n }),
    ]
  ) {
    await assert.rejects(call, (err: unknown) => {
      assert.ok(err instanceof StorageError && !(err instanceof NotFoundError), String(err));
      assert.match(err.message, /bucket "no-such-bucket" does not exist/);
      assert.ok(!err.message.includes("\n"));
      assert.equal(err.retriable, false);
      assert.match(err.hint ?? "", /create the bucket/);
      return true;
    });
  }
});

Deno.test("S3Store: wrong keys are final, with a hint, and the secret never shows", async () => {
  const secret = "wr0ngS3cretValue";
  const store = await newStore({ accessKeyId: "WRONGKEY", secretAccessKey: secret });
  await assert.rejects(() => store.list(0), (err: unknown) => {
    assert.ok(err instanceof StorageError);
    assert.equal(err.retriable, false);
    assert.match(err.message, /access denied \(InvalidAccessKeyId\)/);
    assert.match(err.hint ?? "", /s3:ListBucket/);
    assert.ok(!err.message.includes(secret) && !(err.hint ?? "").includes(secret));
    return true;
  });
  assert.ok(!store.describe().includes(secret));
});

Deno.test("S3Store: 500 and 503 SlowDown are retriable after the SDK's 3 attempts", async () => {
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  try {
    const store = await newStore({}, {}, proxy.url);
    for (
      const [faults, code] of [[{ errorRate: 1 }, /InternalError/], [
        { slowDownRate: 1 },
        /SlowDown/,
      ]] as const
    ) {
      proxy.setFaults(faults);
      const before = proxy.stats().requests;
      await assert.rejects(() => store.list(0), (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.retriable, true);
        assert.match(err.message, code);
        return true;
      });
      assert.equal(proxy.stats().requests - before, 3);
    }
    // A download cut halfway surfaces as a retriable StorageError from the stream, so it can resume.
    proxy.clear();
    const ref = { level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 0 };
    const data = randomBytes(300_000);
    await store.write(ref, bytesBody(data));
    proxy.setFaults({ resetRate: 1 });
    const stream = await store.open(ref);
    await assert.rejects(
      () => readAll(stream),
      (err: unknown) => err instanceof StorageError && err.retriable,
    );
    proxy.clear();
    assert.deepEqual(await readAll(await store.open(ref, { offset: 1000 })), data.subarray(1000));
  } finally {
    await proxy.close();
  }
});

Deno.test("S3Store: sign-payload=false and require-content-md5 still round-trip", async () => {
  const store = await newStore({ signPayload: false, requireContentMd5: true });
  const ref = { level: 0, minTxid: 4n, maxTxid: 4n, createdAt: 0 };
  await store.write(ref, bytesBody(new Uint8Array([1, 2, 3])));
  assert.deepEqual(await readAll(await store.open(ref)), new Uint8Array([1, 2, 3]));
  await store.remove([ref]);
  assert.deepEqual(await store.list(0), []);
});

Deno.test("S3Store: an aborted signal stops a call with its reason", async () => {
  const store = await newStore();
  const abort = new AbortController();
  abort.abort(new Error("stop now"));
  await assert.rejects(() => store.list(0, abort.signal), /stop now/);
});

Deno.test("S3Store: skipVerify trusts a self-signed server for that client only, and warns once", async () => {
  const dir = await Deno.makeTempDir();
  const tls = { certFile: `${dir}/cert.pem`, keyFile: `${dir}/key.pem` };
  const openssl = await new Deno.Command("openssl", {
    args: ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"]
      .concat(["-subj", "/CN=127.0.0.1", "-keyout", tls.keyFile, "-out", tls.certFile]),
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(openssl.success, "openssl made a certificate");
  const https = await startS3Server({ tls });
  // With NODE_EXTRA_CA_CERTS set, Deno's node:https needs full --allow-sys before it verifies anything.
  const extraCa = Deno.env.get("NODE_EXTRA_CA_CERTS");
  Deno.env.delete("NODE_EXTRA_CA_CERTS");
  try {
    const url = `s3://tls/db?endpoint=${https.endpoint}`;
    const lines: string[] = [];
    const logger = new Logger({ level: "warn", write: (line) => lines.push(line) });
    const strict = new S3Store(parseS3Url(url), { env: ENV, logger });
    await assert.rejects(() => strict.list(0), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.retriable, false);
      assert.match(err.message, /TLS certificate not trusted/);
      assert.match(err.hint ?? "", /skipVerify/);
      return true;
    });
    const insecure = new S3Store(parseS3Url(`${url}&skipVerify=true`), { env: ENV, logger });
    new S3Store(parseS3Url(`${url}&skipVerify=true`), { env: ENV, logger });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /WARN TLS certificate verification is off/);
    await assert.rejects(() => insecure.list(0), /bucket "tls" does not exist/);
    await https.createBucket("tls");
    const ref = { level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 0 };
    await insecure.write(ref, bytesBody(new Uint8Array([7])));
    assert.deepEqual(await readAll(await insecure.open(ref)), new Uint8Array([7]));
    await assert.rejects(() => strict.list(0), /TLS certificate not trusted/);
  } finally {
    if (extraCa !== undefined) Deno.env.set("NODE_EXTRA_CA_CERTS", extraCa);
    await https.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("s3Credentials: config keys, then AWS_*, then LITESTREAM_*, else the SDK chain", () => {
  const spec = parseS3Url("s3://b/p");
  const withKeys = { ...spec, accessKeyId: "CFG", secretAccessKey: "cfg-secret" };
  const env = {
    AWS_ACCESS_KEY_ID: "AWS",
    AWS_SECRET_ACCESS_KEY: "aws-secret",
    AWS_SESSION_TOKEN: "tok",
    LITESTREAM_ACCESS_KEY_ID: "LS",
    LITESTREAM_SECRET_ACCESS_KEY: "ls-secret",
  };
  assert.equal(s3Credentials(withKeys, env)?.accessKeyId, "CFG");
  assert.deepEqual(s3Credentials(spec, env), {
    accessKeyId: "AWS",
    secretAccessKey: "aws-secret",
    sessionToken: "tok",
    source: "AWS_*",
  });
  assert.equal(s3Credentials(spec, { ...env, AWS_SECRET_ACCESS_KEY: undefined })?.source, "LITESTREAM_*");
  assert.equal(s3Credentials(spec, {}), undefined);
});

Deno.test("s3Failure maps SDK errors and never repeats a secret", () => {
  const ctx = { what: "list level 0", where: "s3://b/p", bucket: "b", secrets: ["sekrit"] };
  const sdkError = (name: string, status: number | undefined, message = "") =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
  assert.ok(s3Failure(sdkError("NoSuchKey", 404), ctx) instanceof NotFoundError);
  assert.ok(s3Failure(sdkError("NotFound", 404), ctx) instanceof NotFoundError);
  const cases: [Error, boolean, RegExp][] = [
    [sdkError("SlowDown", 503, "Please reduce your request rate."), true, /SlowDown \(HTTP 503\)/],
    [sdkError("InternalError", 500), true, /InternalError/],
    [sdkError("RequestTimeout", 400), true, /RequestTimeout/],
    [
      sdkError("BadDigest", 400, "The Content-MD5 you specified did not match"),
      true,
      /BadDigest \(HTTP 400\)/,
    ],
    [sdkError("XAmzContentSHA256Mismatch", 400), true, /XAmzContentSHA256Mismatch/],
    [sdkError("TooManyRequests", 429), true, /429/],
    [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), true, /socket hang up/],
    [new TypeError("fetch failed"), true, /fetch failed/],
    [sdkError("Error", 200, "aborted"), true, /aborted/],
    [sdkError("InvalidAccessKeyId", 403, "key sekrit bad"), false, /access denied/],
    [sdkError("PermanentRedirect", 301), false, /another region/],
    [sdkError("InvalidArgument", 400, "bad sekrit"), false, /InvalidArgument \(HTTP 400\): bad REDACTED/],
    [
      sdkError("CredentialsProviderError", undefined, "Could not load credentials from any providers"),
      false,
      /no S3 credentials/,
    ],
  ];
  for (const [err, retriable, pattern] of cases) {
    const mapped = s3Failure(err, ctx) as StorageError;
    assert.ok(mapped instanceof StorageError, String(err));
    assert.equal(mapped.retriable, retriable, err.name);
    assert.match(mapped.message, pattern);
    assert.match(mapped.message, /^Cannot list level 0 in s3:\/\/b\/p: /);
    assert.ok(!mapped.message.includes("sekrit"), mapped.message);
  }
});

Deno.test("litestream-timestamp: RFC 3339 as Go's RFC3339Nano prints milliseconds", () => {
  assert.equal(formatLtxTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), "2026-01-02T03:04:05.678Z");
  assert.equal(formatLtxTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 600)), "2026-01-02T03:04:05.6Z");
  assert.equal(formatLtxTimestamp(Date.UTC(2026, 0, 2, 3, 4, 10, 0)), "2026-01-02T03:04:10Z");
  assert.equal(parseLtxTimestamp("2026-01-02T03:04:05.678901234Z"), Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  assert.equal(parseLtxTimestamp("2026-01-02T03:04:05Z"), Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(parseLtxTimestamp("2026-01-02T05:04:05.5+02:00"), Date.UTC(2026, 0, 2, 3, 4, 5, 500));
  assert.equal(parseLtxTimestamp("yesterday"), undefined);
});

Deno.test("S3Store.describe() shows bucket, path and endpoint, nothing secret", () => {
  const store = new S3Store(
    { ...parseS3Url("s3://bkt/a/b?endpoint=127.0.0.1:9000"), accessKeyId: "AKID", secretAccessKey: "SECRET" },
    { env: {} },
  );
  assert.equal(store.describe(), "s3://bkt/a/b?endpoint=http://127.0.0.1:9000");
  assert.equal(new S3Store(parseS3Url("s3://bkt"), { env: {} }).describe(), "s3://bkt");
});

Deno.test("S3Store: a local file cut short while its part streams fails the upload with the read error", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/file.ltx`;
  // When the second part's request arrives (after its digest was read), the file loses its end.
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port }, {}, (r) => {
    if (r.method === "PUT" && r.target.includes("partNumber=2")) Deno.truncateSync(path, 6 * 1024 * 1024);
  });
  try {
    const direct = await newStore({ partSize: 5 * 1024 * 1024, concurrency: 1 });
    const store = new S3Store({ ...direct.spec, endpoint: proxy.url }, { env: ENV });
    const body = await localFileBody(path, randomBytes(11 * 1024 * 1024));
    const started = Date.now();
    await assert.rejects(
      () => store.write({ level: 9, minTxid: 1n, maxTxid: 0x71n, createdAt: 0 }, body),
      /ended \d+ bytes before the part.s end/,
    );
    assert.ok(Date.now() - started < 10_000, "the request waited for the rest of its body");
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store: a part whose answer is cut off is sent again, and the object is whole", async () => {
  // The proxy takes each cut part's whole body to the server, then closes the client's connection before
  // the answer. The part was stored, but the client cannot know: it must send it again, not hang.
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  const dir = await Deno.makeTempDir();
  try {
    const store = withRetries(await newStore({ partSize: 5 << 20 }, {}, proxy.url), { baseDelayMs: 10 });
    for (let round = 0; round < 3; round++) {
      const data = randomBytes((11 << 20) + round * 100_000);
      const body = await localFileBody(`${dir}/upload-${round}`, data);
      const ref = {
        level: 1,
        minTxid: BigInt(round * 10 + 1),
        maxTxid: BigInt(round * 10 + 9),
        createdAt: 0,
      };
      proxy.setFaults({ resetRate: 0.3, seed: [12, 13, 3][round]! });
      const before = proxy.stats().resets;
      await store.write(ref, body);
      const cut = proxy.stats().resets - before;
      proxy.clear();
      assert.ok(cut > 0, `round ${round}: some answers were cut`);
      assert.deepEqual(await readAll(await store.open(ref)), data, `round ${round}`);
    }
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});
