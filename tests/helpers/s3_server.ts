/**
 * A real S3-compatible server for tests: s3rver 3.7.1 under Deno on 127.0.0.1, a random port and a temp
 * data dir, with the launcher patches of test-servers.md §2 applied at run time:
 *   1. Deno's node:crypto has no DES, which s3rver uses only for opaque ListObjectsV2 continuation
 *      tokens: map it to AES-256-CBC, so listings beyond one page work.
 *   2. FilesystemStore.listObjects drops CommonPrefixes of "directories" holding only sub-directories:
 *      with a delimiter, list flat and fold keys into prefixes (Litestream's restore lists this way).
 *   3. FilesystemStore.putObject writes the object file in place while the body arrives, so a listing
 *      or a read meanwhile sees a short object, and keeps whatever arrived when the connection breaks
 *      (S3 shows a PUT whole or not at all): buffer the request, refuse it when short, write it beside
 *      the object and rename it into place. Completing a multipart upload goes through putObject too,
 *      with the parts as one stream: a chaos restore that listed an L3 object while its parts were
 *      still being joined planned with, and read, its first 9.6 of 16.5 MB.
 *   4. FilesystemStore.putPart does the same with parts, in place and answered before the file is
 *      written: an attempt at a part that a client gave up on, cut short, overwrites the part that a
 *      retry stored, or mixes with its writes still under way (a chaos run restored a full-sized L1
 *      object whose frames ran past its end, most likely so). S3 keeps a part whole or not at all: same
 *      fix as 3.
 *   5. putPart ignores Content-MD5; S3 refuses a part whose bytes do not match it (BadDigest): check it.
 *   6. PUTs and parts ignore a signed payload's SHA-256 (x-amz-content-sha256); S3 refuses bytes that do
 *      not match it (XAmzContentSHA256Mismatch): check it, as walship leaves out Content-MD5 then.
 * The conditional-write patch (If-None-Match/If-Match) is left out: walship makes no conditional writes.
 * The server script is written to the temp dir and run with --no-config --no-lock, so the project's
 * module graph and lockfile never see s3rver.
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Agent as HttpsAgent } from "node:https";

const SERVER_SCRIPT = `
import crypto from "node:crypto";
import { Buffer } from "node:buffer";
import fsp from "node:fs/promises";
import { dirname } from "node:path";
import S3rver from "npm:s3rver@3.7.1";
import FilesystemStore from "npm:s3rver@3.7.1/lib/stores/filesystem.js";
import S3Error from "npm:s3rver@3.7.1/lib/models/error.js";

const stretch = (b, n) => { const o = new Uint8Array(n); for (let i = 0; i < n; i++) o[i] = b[i % b.length]; return o; };
const { createCipheriv, createDecipheriv } = crypto;
crypto.createCipheriv = (alg, key, iv, o) =>
  alg === "des" ? createCipheriv("aes-256-cbc", stretch(key, 32), stretch(iv, 16)) : createCipheriv(alg, key, iv, o);
crypto.createDecipheriv = (alg, key, iv, o) =>
  alg === "des" ? createDecipheriv("aes-256-cbc", stretch(key, 32), stretch(iv, 16)) : createDecipheriv(alg, key, iv, o);

const listFlat = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function (bucket, options = {}) {
  const { delimiter = "", prefix = "", maxKeys = Infinity } = options;
  if (!delimiter) return listFlat.call(this, bucket, options);
  const all = await listFlat.call(this, bucket, { ...options, delimiter: "", maxKeys: Infinity });
  const prefixes = new Set();
  const objects = [];
  let isTruncated = false;
  for (const object of all.objects) {
    const at = object.key.indexOf(delimiter, prefix.length);
    if (at !== -1) prefixes.add(object.key.slice(0, at + delimiter.length));
    else if (objects.length < maxKeys) objects.push(object);
    else { isTruncated = true; break; }
  }
  return { objects, commonPrefixes: [...prefixes].sort(), isTruncated };
};

// A body whole in memory: a request's (checked against the length it declared) or, when a multipart
// upload completes, its parts joined.
async function wholeBody(content) {
  if (Buffer.isBuffer(content)) return content;
  const chunks = [];
  for await (const chunk of content) chunks.push(chunk);
  return Buffer.concat(chunks);
}

// Writes beside \`path\` and renames into place after \`beforeRename\`, so no reader sees a part-written file.
async function writeBeside(path, body, beforeRename) {
  await fsp.mkdir(dirname(path), { recursive: true });
  const partial = path + "." + crypto.randomUUID() + ".partial";
  await fsp.writeFile(partial, body);
  await beforeRename();
  await fsp.rename(partial, path);
}

FilesystemStore.prototype.putObject = async function (object) {
  const content = object.content;
  const body = await wholeBody(content);
  if (typeof content?.headers === "object" && Number.isFinite(object.size) && body.length !== object.size) {
    throw new Error("IncompleteBody: " + body.length + " of " + object.size + " bytes arrived");
  }
  checkSignedSha256(content?.headers, body);
  // Metadata first: listings show only keys whose object file exists, so a new object never appears
  // without its metadata.
  const md5 = crypto.createHash("md5").update(body).digest("hex");
  const objectPath = this.getResourcePath(object.bucket, object.key, "object");
  const { bucket, key, metadata } = object;
  await writeBeside(objectPath, body, () => this.putMetadata(bucket, key, metadata, md5));
  return { size: body.length, md5 };
};

FilesystemStore.prototype.putPart = async function (bucket, uploadId, partNumber, content) {
  const body = await wholeBody(content);
  const declared = Number(content.headers?.["content-length"]);
  if (Number.isFinite(declared) && body.length !== declared) {
    throw new Error("IncompleteBody: " + body.length + " of " + declared + " bytes arrived");
  }
  checkSignedSha256(content.headers, body);
  const md5 = crypto.createHash("md5").update(body).digest("hex");
  const claimed = content.headers?.["content-md5"];
  if (claimed !== undefined && claimed !== Buffer.from(md5, "hex").toString("base64")) {
    throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.");
  }
  const partPath = this.getResourcePath(bucket, undefined, "uploads") + "/" + uploadId + "/" + partNumber;
  await writeBeside(partPath, body, () => fsp.writeFile(partPath + ".md5", md5));
  return { size: body.length, md5 };
};

function checkSignedSha256(headers, body) {
  const signed = headers?.["x-amz-content-sha256"];
  if (!/^[0-9a-f]{64}$/.test(signed ?? "")) return; // UNSIGNED-PAYLOAD, streaming, or none
  if (crypto.createHash("sha256").update(body).digest("hex") !== signed) {
    const err = new S3Error(
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
    err.status = 400; // s3rver knows no status for this code
    err.expose = true;
    throw err;
  }
}

const [port, directory, certFile, keyFile] = Deno.args;
const tls = certFile ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) } : {};
await new S3rver({ address: "127.0.0.1", port: Number(port), directory, silent: true, ...tls }).run();
console.log("ready");
// Exit when the test process goes away (stdin closes), so a crashed run leaves no server behind.
for await (const _ of Deno.stdin.readable);
Deno.exit(0);
`;

export interface S3ServerOptions {
  /** PEM files: serve https instead of http. */
  tls?: { certFile: string; keyFile: string };
}

export interface S3Server {
  /** `http://127.0.0.1:PORT` (https with `tls`). */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** Where the objects live on disk (`<dir>/<bucket>/<key>._S3rver_object`). */
  dataDir: string;
  /** A plain SDK client for the server (the caller destroys it), to look at what walship stored. */
  client(): S3Client;
  /** Creates a bucket (walship itself never does). */
  createBucket(name: string): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
  /** Kills the server and removes its data synchronously, for an `unload` handler. */
  kill(): void;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts s3rver and resolves once it listens. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const root = await Deno.makeTempDir({ prefix: "walship-s3rver-" });
  const dataDir = `${root}/data`;
  await Deno.mkdir(dataDir);
  const script = `${root}/s3rver.js`;
  await Deno.writeTextFile(script, SERVER_SCRIPT);
  const port = freePort();
  const tlsFiles = options.tls ? [options.tls.certFile, options.tls.keyFile] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-config",
      "--no-lock",
      `--allow-net=127.0.0.1:${port}`,
      `--allow-read=${[root, ...tlsFiles].join(",")}`,
      `--allow-write=${root}`,
      "--allow-env",
      "--allow-sys",
      script,
      String(port),
      dataDir,
      ...tlsFiles,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.stdin.close().catch(() => {});
    await child.status;
    await stderr;
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  try {
    await waitForLine(child.stdout, "ready", 30_000);
  } catch (err) {
    await stop();
    throw new Error(`s3rver did not start: ${(err as Error).message}\n${await stderr}`);
  }
  const endpoint = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const accessKeyId = "S3RVER";
  const secretAccessKey = "S3RVER";
  const client = () =>
    new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // The test's own self-signed certificate.
      ...(options.tls
        ? { requestHandler: { httpsAgent: new HttpsAgent({ rejectUnauthorized: false }) } }
        : {}),
    });
  return {
    endpoint,
    port,
    accessKeyId,
    secretAccessKey,
    dataDir,
    client,
    async createBucket(name) {
      const c = client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
    },
    stop,
    kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      try {
        Deno.removeSync(root, { recursive: true });
      } catch {
        // already removed
      }
    },
  };
}

/** Reads `stream` until a line equal to `want`, then stops reading it. */
async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  want: string,
  timeoutMs: number,
): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const timer = setTimeout(() => reader.cancel(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error("the server exited");
      text += value;
      if (text.split("\n").includes(want)) return;
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}
