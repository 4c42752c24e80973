/**
 * S3 multipart upload on the SDK's own commands. @aws-sdk/lib-storage did this before; its part chunker
 * joins incoming chunks with Buffer.concat, which on Deno's node:buffer copies in script (a sixth of the
 * replicator's CPU on a 20 MB/s load to s3rver). Here a local file's parts stream from disk (file_range.ts)
 * and other bodies' parts are recycled buffers filled with native copies (upload_parts.ts), at most
 * `concurrency` in flight, and any failure aborts the upload so no parts linger.
 */
import type {
  ChecksumAlgorithm,
  CompletedPart,
  S3Client,
  StorageClass,
  UploadPartCommandOutput,
} from "@aws-sdk/client-s3";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { partBuffers } from "../util/buffer_pool.ts";
import { StorageError } from "../util/errors.ts";
import { digestRange, type FileRange, openRange } from "./file_range.ts";
import type { WriteBody } from "./store.ts";
import { sendFileParts, sendInParts } from "./upload_parts.ts";

/** S3's limits on a multipart upload. */
export const MAX_PARTS = 10_000;
const MIN_PART_BYTES = 5 * 1024 * 1024;

export interface MultipartTarget {
  Bucket: string;
  Key: string;
  Metadata?: Record<string, string>;
  StorageClass?: StorageClass;
}

export interface MultipartOptions {
  partSize: number;
  concurrency: number;
  /** Whether requests sign their payload's SHA-256 (else the client sends UNSIGNED-PAYLOAD). */
  signPayload: boolean;
  /** For errors: `write "<key>"`. */
  what: string;
  signal?: AbortSignal;
}

/**
 * The part size for a body: the configured one, grown (in whole MiB) when the body would need more than
 * 10,000 parts, so a 100 GiB snapshot still fits.
 */
export function partSizeFor(sizeBytes: number, configured: number): number {
  const size = Math.max(configured, MIN_PART_BYTES);
  if (Math.ceil(sizeBytes / size) <= MAX_PARTS) return size;
  const mib = 1024 * 1024;
  return Math.ceil(sizeBytes / MAX_PARTS / mib) * mib;
}

/** Uploads exactly `sizeBytes` from `body` as one object; throws (after aborting the upload) on any failure. */
export async function uploadMultipart(
  client: S3Client,
  target: MultipartTarget,
  body: WriteBody,
  options: MultipartOptions,
): Promise<void> {
  const { signal } = options;
  const partSize = partSizeFor(body.sizeBytes, options.partSize);
  // Where the client computes checksums by default (AWS), the upload must declare the algorithm its parts use.
  const checksummed = (await client.config.requestChecksumCalculation()) === "WHEN_SUPPORTED";
  const created = await client.send(
    new CreateMultipartUploadCommand({
      ...target,
      ...(checksummed ? { ChecksumAlgorithm: "CRC32" as ChecksumAlgorithm } : {}),
    }),
    { abortSignal: signal },
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new StorageError(`Cannot ${options.what}: the server gave no upload id`);
  const { Bucket, Key } = target;
  try {
    const upload = { Bucket, Key, UploadId: uploadId };
    const partOptions = { ...options, partSize, checksummed };
    const parts = body.localPath === undefined
      ? await sendParts(client, upload, body.open(), body.sizeBytes, partOptions)
      : await sendFileRanges(client, upload, body.localPath, body.sizeBytes, {
        ...partOptions,
        pace: body.pace,
      });
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
      { abortSignal: signal },
    );
  } catch (err) {
    // Best effort: a lingering upload costs storage until the bucket's lifecycle rule removes it.
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId })).catch(() => {});
    throw err;
  }
  await checkStoredSize(client, target, body.sizeBytes, options);
}

/**
 * One HEAD after the upload: the stored object must have every byte sent. A server that answers a part
 * before it has written all of it (s3rver does) can assemble a short object from a part still being
 * written; a failed check is retriable, and the retry uploads the whole file again. Keys that may not
 * read (403) skip the check.
 */
async function checkStoredSize(
  client: S3Client,
  { Bucket, Key }: MultipartTarget,
  sizeBytes: number,
  { what, signal }: MultipartOptions,
): Promise<void> {
  let head;
  try {
    head = await client.send(new HeadObjectCommand({ Bucket, Key }), { abortSignal: signal });
  } catch (err) {
    // Write-only keys (no s3:GetObject) cannot look: the upload stands, unchecked, as it did before.
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) return;
    throw err;
  }
  if (head.ContentLength !== sizeBytes) {
    throw new StorageError(
      `Cannot ${what}: the server stored ${head.ContentLength} of the ${sizeBytes} bytes uploaded`,
      { retriable: true },
    );
  }
}

type UploadTarget = { Bucket: string; Key: string; UploadId: string };
type PartOptions = MultipartOptions & { checksummed: boolean; pace?: () => Promise<void> };

/** Uploads the stream's parts from recycled buffers, `concurrency` at a time; the completed parts in order. */
async function sendParts(
  client: S3Client,
  upload: UploadTarget,
  body: ReadableStream<Uint8Array>,
  sizeBytes: number,
  options: PartOptions,
): Promise<CompletedPart[]> {
  const { partSize, concurrency, what, signal } = options;
  const done: CompletedPart[] = [];
  const pool = partBuffers(partSize, concurrency + 1);
  await sendInParts(
    body,
    { sizeBytes, pool, concurrency, what, signal },
    async (data, index, abortSignal) => {
      const command = new UploadPartCommand({
        ...upload,
        PartNumber: index + 1,
        Body: data,
        ContentLength: data.length,
      });
      done.push(completed(await client.send(command, { abortSignal }), index + 1, what));
    },
  );
  return done.sort((a, b) => a.PartNumber! - b.PartNumber!);
}

/**
 * Uploads a local file's parts, each streamed from its byte range, `concurrency` at a time; the completed
 * parts in order. The digests a request declares (a signed payload's SHA-256, the CRC-32 a checksummed
 * upload needs) come from one read of the range before it is sent. The server refuses bytes damaged on the
 * way instead of storing them (and the part is sent again): by the CRC-32 where there is one, else by the
 * signed SHA-256 (XAmzContentSHA256Mismatch), else by a Content-MD5 (BadDigest), which only an unsigned
 * part needs: MD5 costs 2 ms a MiB here, and a signed part's SHA-256 already covers its bytes.
 */
async function sendFileRanges(
  client: S3Client,
  upload: UploadTarget,
  path: string,
  sizeBytes: number,
  options: PartOptions,
): Promise<CompletedPart[]> {
  const { partSize, concurrency, what, signal, signPayload, checksummed, pace } = options;
  const done: CompletedPart[] = [];
  await sendFileParts(
    path,
    { sizeBytes, partSize, concurrency, what, signal, pace },
    async (range, index, abortSignal) => {
      const want = { sha256: signPayload, crc32: checksummed, md5: !checksummed && !signPayload };
      const digests = await digestRange(range, want, what);
      const command = new UploadPartCommand({
        ...upload,
        PartNumber: index + 1,
        ContentLength: range.length,
        ...(digests.md5 ? { ContentMD5: digests.md5 } : {}),
        ...(digests.crc32
          ? { ChecksumAlgorithm: "CRC32" as ChecksumAlgorithm, ChecksumCRC32: digests.crc32 }
          : {}),
      });
      streamRangeBody(command, range, digests.sha256);
      done.push(completed(await client.send(command, { abortSignal }), index + 1, what));
    },
  );
  return done.sort((a, b) => a.PartNumber! - b.PartNumber!);
}

/**
 * Makes each attempt of `command` (the SDK retries inside send) carry a fresh stream of the range, set
 * after signing: the signature covers `sha256` when given, else the client's UNSIGNED-PAYLOAD.
 */
function streamRangeBody(command: UploadPartCommand, range: FileRange, sha256?: string): void {
  if (sha256) {
    command.middlewareStack.add((next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-content-sha256"] = sha256;
      return next(args);
    }, { step: "build", name: "walshipPartSha256" });
  }
  command.middlewareStack.add((next) => async (args) => {
    const stream = openRange(range);
    // A copy of the request carries the stream, so no step before this one sees a consumed body (the
    // retry step gives up on requests whose body is a stream, and this one can be sent again).
    const request = { ...(args.request as object), body: stream };
    // A read that fails ends the attempt with its error: the request itself would wait for the rest of
    // its body (Deno's node:http reports no error for a request torn down on a reused socket).
    const readFailed = new Promise<never>((_, reject) => stream.once("error", reject));
    try {
      return await Promise.race([next({ ...args, request }), readFailed]);
    } finally {
      stream.destroy(); // an aborted or refused request leaves it unread and open
    }
  }, { step: "deserialize", name: "walshipPartBody" });
}

function completed(out: UploadPartCommandOutput, PartNumber: number, what: string): CompletedPart {
  if (!out.ETag) throw new StorageError(`Cannot ${what}: part ${PartNumber} came back without an ETag`);
  return {
    PartNumber,
    ETag: out.ETag,
    ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}),
    ...(out.ChecksumCRC32C ? { ChecksumCRC32C: out.ChecksumCRC32C } : {}),
    ...(out.ChecksumCRC64NVME ? { ChecksumCRC64NVME: out.ChecksumCRC64NVME } : {}),
    ...(out.ChecksumSHA1 ? { ChecksumSHA1: out.ChecksumSHA1 } : {}),
    ...(out.ChecksumSHA256 ? { ChecksumSHA256: out.ChecksumSHA256 } : {}),
  };
}
