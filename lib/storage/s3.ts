/**
 * The s3:// replica store on the AWS SDK: Litestream v0.5's layout (`<path>/<level %04x>/<min>-<max>.ltx`)
 * and `litestream-timestamp` metadata. Small files go up in one PUT with a Content-Length, larger ones as a
 * multipart upload (s3_multipart.ts); reads are ranged GETs; deletes are batched. It uses only ListBucket, GetObject (and
 * HEAD), PutObject, DeleteObject and GetBucketLocation, so a narrow IAM policy suffices.
 */
import type { S3Client, StorageClass } from "@aws-sdk/client-s3";
import type { S3Clients } from "./s3_client.ts";
import type { S3Spec } from "../config/s3_url.ts";
import { NotFoundError, StorageError } from "../util/errors.ts";
import { Logger } from "../util/log.ts";
import { hexLevelLayout, type Layout } from "./layout.ts";
import { readS3Env, type S3Credentials, s3Credentials, type S3Env } from "./s3_credentials.ts";
import { s3Failure } from "./s3_errors.ts";
import type { ByteRange, LtxFileInfo, LtxFileRef, ReplicaStore, WriteBody } from "./store.ts";
import { compareLtxFiles, rangeHeader } from "./store.ts";
import { readWhole } from "./upload_parts.ts";
import { mapReadErrors } from "../util/streams.ts";
import { inReadBuffers } from "../util/read_buffers.ts";

export interface S3StoreOptions {
  /** Credential variables. @default readS3Env() */
  env?: S3Env;
  /** Receives the skip-verify warning. @default warnings to stderr */
  logger?: Logger;
  /**
   * Where list() takes createdAt from. "listing": each object's LastModified, the upload time to the
   * second (one request per 1000 files, as Litestream lists). "metadata": a HEAD per file for the LTX
   * timestamp in `litestream-timestamp`, as Litestream does for timestamp restores. @default "listing"
   */
  timestamps?: "listing" | "metadata";
  /** Tries per request inside the SDK; the retry decorator adds more around whole calls. @default 3 */
  maxAttempts?: number;
}

const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_CONCURRENCY = 5;
const DELETE_BATCH = 1000;
const HEAD_CONCURRENCY = 50;
const TIMESTAMP_KEY = "litestream-timestamp";
let warnedSkipVerify = false;
let sdkModule: Promise<typeof import("./s3_sdk.ts")> | undefined;
/** The SDK, loaded on the first S3 request of the process. */
const sdk = () => (sdkModule ??= import("./s3_sdk.ts"));

export class S3Store implements ReplicaStore {
  readonly spec: S3Spec;
  #layout: Layout;
  #options: S3StoreOptions;
  #clients: Promise<S3Clients> | undefined;
  #credentials: S3Credentials | undefined;

  constructor(spec: S3Spec, options: S3StoreOptions = {}) {
    this.spec = spec;
    this.#credentials = s3Credentials(spec, options.env ?? readS3Env());
    this.#layout = hexLevelLayout(spec.path);
    this.#options = options;
    if (spec.skipVerify && !warnedSkipVerify) {
      warnedSkipVerify = true;
      (options.logger ?? new Logger({ level: "warn" })).warn(
        "TLS certificate verification is off for this replica (skip-verify)",
        { replica: this.describe() },
      );
    }
  }

  describe(): string {
    const where = `s3://${this.spec.bucket}${this.spec.path ? `/${this.spec.path}` : ""}`;
    return this.spec.endpoint ? `${where}?endpoint=${this.spec.endpoint}` : where;
  }

  async list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    const Bucket = this.spec.bucket;
    const prefix = this.#layout.levelPrefix(level);
    const files: (LtxFileInfo & { key: string })[] = [];
    let token: string | undefined;
    do {
      const command = new (await sdk()).ListObjectsV2Command({
        Bucket,
        Prefix: prefix,
        ContinuationToken: token,
      });
      const page = await this.#send(
        `list level ${level}`,
        signal,
        (c) => c.send(command, { abortSignal: signal }),
      );
      for (const object of page.Contents ?? []) {
        const ref = object.Key ? this.#layout.parseFileName(level, object.Key.slice(prefix.length)) : null;
        if (!ref) continue;
        files.push({
          ...ref,
          key: object.Key!,
          sizeBytes: object.Size ?? 0,
          createdAt: object.LastModified?.getTime() ?? 0,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const listed = this.#options.timestamps === "metadata"
      ? await this.#readTimestamps(files, signal)
      : files;
    return listed.map(({ key: _, ...info }) => info).sort(compareLtxFiles);
  }

  async open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const key = this.#layout.fileKey(file);
    if (range?.length === 0) return new ReadableStream({ start: (c) => c.close() });
    const Range = rangeHeader(range);
    const what = `read "${key}"`;
    const command = new (await sdk()).GetObjectCommand({ Bucket: this.spec.bucket, Key: key, Range });
    const out = await this.#send(what, signal, (c) => c.send(command, { abortSignal: signal }), "downloads");
    if (!out.Body) throw new StorageError(`Cannot ${what} in ${this.describe()}: empty response`);
    return mapReadErrors(
      inReadBuffers(out.Body.transformToWebStream(), out.ContentLength),
      (err) => this.#fail(err, what, signal),
    );
  }

  async write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo> {
    const key = this.#layout.fileKey(file);
    const what = `write "${key}"`;
    const params = {
      Bucket: this.spec.bucket,
      Key: key,
      Metadata: { [TIMESTAMP_KEY]: formatLtxTimestamp(file.createdAt) },
      ...(this.spec.storageClass ? { StorageClass: this.spec.storageClass as StorageClass } : {}),
    };
    const partSize = this.spec.partSize ?? DEFAULT_PART_SIZE;
    if (body.sizeBytes <= partSize) {
      // One PUT with a known Content-Length: no aws-chunked framing, no part buffers (Litestream #1327, #940).
      const bytes = await readWhole(body.open(), body.sizeBytes, what);
      const command = new (await sdk()).PutObjectCommand({
        ...params,
        Body: bytes,
        ContentLength: bytes.length,
      });
      await this.#send(what, signal, (c) => c.send(command, { abortSignal: signal }));
    } else {
      const client = await this.#getClient();
      const { uploadMultipart } = await sdk();
      try {
        await uploadMultipart(client, params, body, {
          partSize,
          concurrency: this.spec.concurrency ?? DEFAULT_CONCURRENCY,
          signPayload: this.spec.signPayload,
          what,
          signal,
        });
      } catch (err) {
        throw this.#fail(err, what, signal);
      }
    }
    return {
      level: file.level,
      minTxid: file.minTxid,
      maxTxid: file.maxTxid,
      createdAt: file.createdAt,
      sizeBytes: body.sizeBytes,
    };
  }

  async remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void> {
    const Bucket = this.spec.bucket;
    for (let i = 0; i < files.length; i += DELETE_BATCH) {
      const keys = files.slice(i, i + DELETE_BATCH).map((f) => ({ Key: this.#layout.fileKey(f) }));
      const what = `remove ${keys.length} file(s)`;
      const command = new (await sdk()).DeleteObjectsCommand({
        Bucket,
        Delete: { Objects: keys, Quiet: true },
      });
      const out = await this.#send(what, signal, (c) => c.send(command, { abortSignal: signal }));
      const errors = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (errors.length > 0) {
        const first = errors[0]!;
        const detail = `${first.Code ?? "Error"}${first.Message ? `: ${first.Message}` : ""}`;
        const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
        throw new StorageError(`Cannot ${what} in ${this.describe()}: "${first.Key}": ${detail}${more}`, {
          retriable: /InternalError|SlowDown|ServiceUnavailable/.test(first.Code ?? ""),
        });
      }
    }
  }

  /** Replaces each file's createdAt with its `litestream-timestamp`, HEADing up to 50 at a time. */
  /** Reads each file's LTX timestamp; a file removed since the listing (retention) is left out. */
  async #readTimestamps<F extends LtxFileInfo & { key: string }>(
    files: F[],
    signal?: AbortSignal,
  ): Promise<F[]> {
    const gone = new Set<F>();
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const file = files[next++]!;
        const command = new (await sdk()).HeadObjectCommand({ Bucket: this.spec.bucket, Key: file.key });
        let head;
        try {
          head = await this.#send(
            `read metadata of "${file.key}"`,
            signal,
            (c) => c.send(command, { abortSignal: signal }),
          );
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
          gone.add(file);
          continue;
        }
        const stamp = parseLtxTimestamp(head.Metadata?.[TIMESTAMP_KEY] ?? "");
        if (stamp !== undefined) file.createdAt = stamp;
      }
    };
    await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, files.length) }, worker));
    return gone.size === 0 ? files : files.filter((f) => !gone.has(f));
  }

  async #send<T>(
    what: string,
    signal: AbortSignal | undefined,
    run: (client: S3Client) => Promise<T>,
    use: keyof S3Clients = "client",
  ): Promise<T> {
    const client = (await this.#getClients())[use];
    try {
      return await run(client);
    } catch (err) {
      throw this.#fail(err, what, signal);
    }
  }

  async #getClient(): Promise<S3Client> {
    return (await this.#getClients()).client;
  }

  #getClients(): Promise<S3Clients> {
    this.#clients ??= sdk().then(({ createS3Clients }) =>
      createS3Clients(this.spec, {
        where: this.describe(),
        maxAttempts: this.#options.maxAttempts ?? 3,
        ...(this.#credentials ? { credentials: this.#credentials } : {}),
      })
    ).catch((err) => {
      this.#clients = undefined; // a failed region lookup is tried again on the next call
      throw err;
    });
    return this.#clients;
  }

  #fail(err: unknown, what: string, signal?: AbortSignal): Error {
    if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new Error("aborted");
    const secrets = this.#credentials ? [this.#credentials.secretAccessKey] : [];
    return s3Failure(err, {
      what,
      where: this.describe(),
      bucket: this.spec.bucket,
      secrets,
    });
  }
}

/** RFC 3339 in UTC with the fraction trimmed, as Go's RFC3339Nano prints a millisecond time. */
export function formatLtxTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, "Z");
}

/** Milliseconds since the epoch of an RFC 3339 time with any fraction length, or undefined. */
export function parseLtxTimestamp(text: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(text.trim());
  if (!m) return undefined;
  const seconds = Date.parse(m[1]! + m[3]!.toUpperCase());
  if (Number.isNaN(seconds)) return undefined;
  return seconds + Number((m[2] ?? "").padEnd(3, "0").slice(0, 3));
}
