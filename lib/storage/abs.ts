/**
 * The abs:// replica store: Azure Blob Storage (and Azurite) through @azure/storage-blob, in Litestream's
 * layout `<path>/ltx/<level>/<min>-<max>.ltx` with the LTX timestamp in blob metadata `litestreamtimestamp`.
 */
import type { Readable } from "node:stream";
import type { BlockBlobClient, BlockBlobUploadOptions, ContainerClient } from "@azure/storage-blob";
import type { AbsSpec } from "../config/abs_url.ts";
import { partBuffers } from "../util/buffer_pool.ts";
import { NotFoundError, StorageError } from "../util/errors.ts";
import { type Layout, ltxDirLayout } from "./layout.ts";
import type { ByteRange, LtxFileInfo, LtxFileRef, ReplicaStore, WriteBody } from "./store.ts";
import { compareLtxFiles, rangeHeader } from "./store.ts";
import { mapReadErrors } from "../util/streams.ts";
import { inReadBuffers } from "../util/read_buffers.ts";
import { readWhole, sendFileParts, sendInParts } from "./upload_parts.ts";
import { openRange } from "./file_range.ts";
import {
  type AbsConnection,
  credentialProblem,
  isCredentialError,
  resolveAbsConnection,
} from "./abs_auth.ts";

export { type AbsConnection, resolveAbsConnection } from "./abs_auth.ts";

/** Litestream's metadata key; Azure metadata names must be C# identifiers, so no hyphen. */
export const TIMESTAMP_METADATA_KEY = "litestreamtimestamp";
const MAX_BATCH_DELETE = 256;

export interface AbsStoreOptions {
  /** Environment the credentials are read from. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
  /** Blobs per listing request. @default 5000 (Azure's maximum) */
  listPageSize?: number;
  /** Size of each staged block; bodies up to this size are sent in one request. @default 4 MiB */
  blockSizeBytes?: number;
  /** How long DefaultAzureCredential may take to get a token before the call fails. @default 15_000 */
  tokenTimeoutMs?: number;
}

export class AbsStore implements ReplicaStore {
  readonly connection: AbsConnection;
  #spec: AbsSpec;
  #containerClient?: Promise<ContainerClient>;
  #tokenTimeoutMs: number;
  #layout: Layout;
  #pageSize: number;
  #blockSize: number;
  #secrets: string[];
  #batchUnsupported = false;

  /** @throws UsageError when no endpoint can be formed or a credential lacks what it needs. */
  constructor(spec: AbsSpec, options: AbsStoreOptions = {}) {
    const { env = Deno.env.toObject(), listPageSize = 5000, blockSizeBytes = 4 << 20 } = options;
    this.#spec = spec;
    this.connection = resolveAbsConnection(spec, env);
    this.#tokenTimeoutMs = options.tokenTimeoutMs ?? 15_000;
    this.#layout = ltxDirLayout(spec.path);
    this.#pageSize = listPageSize;
    this.#blockSize = blockSizeBytes;
    const { auth } = this.connection;
    this.#secrets = auth.method === "sas"
      ? [auth.sasToken]
      : auth.method === "shared-key"
      ? [auth.accountKey]
      : [];
  }

  describe(): string {
    const { accountName } = this.connection;
    const account = accountName ? `${accountName}@` : "";
    const path = this.#spec.path ? `/${this.#spec.path}` : "";
    const endpoint = this.#spec.endpoint ? `?endpoint=${this.#spec.endpoint}` : "";
    return `abs://${account}${this.#spec.container}${path}${endpoint}`;
  }

  /** The SDK client, imported on first use. */
  #container(): Promise<ContainerClient> {
    return this.#containerClient ??= import("./abs_client.ts").then(async ({ serviceClient }) =>
      (await serviceClient(this.connection, this.#tokenTimeoutMs)).getContainerClient(this.#spec.container)
    );
  }

  async list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    const prefix = this.#layout.levelPrefix(level);
    const files: LtxFileInfo[] = [];
    try {
      const pages = (await this.#container())
        .listBlobsFlat({ prefix, includeMetadata: true, abortSignal: signal })
        .byPage({ maxPageSize: this.#pageSize });
      for await (const page of pages) {
        for (const item of page.segment.blobItems) {
          const name = item.name.slice(prefix.length);
          const ref = name.includes("/") ? null : this.#layout.parseFileName(level, name);
          if (!ref) continue;
          const stamped = Date.parse(item.metadata?.[TIMESTAMP_METADATA_KEY] ?? "");
          files.push({
            ...ref,
            sizeBytes: item.properties.contentLength ?? 0,
            createdAt: Number.isFinite(stamped) ? stamped : item.properties.createdOn?.getTime() ?? 0,
          });
        }
      }
    } catch (err) {
      throw this.#wrap(err, "list", prefix, signal);
    }
    return files.sort(compareLtxFiles);
  }

  async open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const key = this.#layout.fileKey(file);
    // The SDK reads a count of 0 as "to the end".
    if (range?.length === 0) return new Blob([]).stream();
    try {
      const blobClient = (await this.#container()).getBlobClient(key);
      const url = await (await import("./abs_client.ts")).readUrl(blobClient, this.connection);
      if (url) return await this.#fetchBlob(url, key, range, signal);
      const response = await blobClient.download(range?.offset ?? 0, range?.length, {
        abortSignal: signal,
        // The SDK resumes a broken body itself from the byte it reached, a few times, before the engine must.
        maxRetryRequests: 3,
      });
      const body = response.readableStreamBody;
      if (!body) {
        throw new StorageError(`Cannot read "${key}" in ${this.describe()}: the response had no body`);
      }
      // node:stream loads here, with the Azure SDK, not at every start-up.
      const { Readable: NodeReadable } = await import("node:stream");
      return NodeReadable.toWeb(body as Readable) as ReadableStream<Uint8Array>;
    } catch (err) {
      throw this.#wrap(err, "read", key, signal);
    }
  }

  /**
   * One GET through Deno's native fetch, for a URL that carries its own authorisation (a SAS): the SDK's
   * node:http parses in script, a tenth of a restore's time. A body that goes silent is the reader's to
   * notice (openResumable's idle timeout); the response head must come within 60 s.
   */
  async #fetchBlob(url: string, key: string, range?: ByteRange, signal?: AbortSignal) {
    const bytes = rangeHeader(range);
    const headers: Record<string, string> = bytes ? { range: bytes } : {};
    const head = AbortSignal.timeout(60_000);
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: signal ? AbortSignal.any([signal, head]) : head });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      // fetch's message repeats the URL, SAS included: say what failed without it.
      const message = err instanceof Error ? err.message.replace(/ for url \([^)]*\)/, "") : String(err);
      const reason = head.aborted ? "no response within 60 s" : this.#redact(message.split("\n")[0]!);
      throw new StorageError(`Cannot read "${key}" in ${this.describe()}: network error (${reason})`, {
        retriable: true,
      });
    }
    if ((response.status === 200 || response.status === 206) && response.body) {
      // A body cut short fails with fetch's own error, which may repeat the URL: mapped like any other.
      return mapReadErrors(
        inReadBuffers(response.body, contentLength(response)),
        (err) => this.#wrap(err, "read", key, signal),
      );
    }
    await response.body?.cancel();
    const code = response.headers.get("x-ms-error-code") ?? undefined;
    throw this.#serviceError(response.status, code, `Cannot read "${key}" in ${this.describe()}`, undefined);
  }

  async write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo> {
    const key = this.#layout.fileKey(file);
    const options: BlockBlobUploadOptions = {
      metadata: { [TIMESTAMP_METADATA_KEY]: formatTimestamp(file.createdAt) },
      tier: "Hot",
      blobHTTPHeaders: { blobContentType: "application/octet-stream" },
      abortSignal: signal,
    };
    try {
      const blob = (await this.#container()).getBlockBlobClient(key);
      const sizeBytes = body.sizeBytes <= this.#blockSize
        ? await this.#putWhole(blob, body, options)
        : await this.#putBlocks(blob, body, options, signal);
      return { ...file, sizeBytes };
    } catch (err) {
      throw this.#wrap(err, "upload", key, signal);
    }
  }

  async remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void> {
    const keys = files.map((f) => this.#layout.fileKey(f));
    for (let i = 0; i < keys.length; i += MAX_BATCH_DELETE) {
      const chunk = keys.slice(i, i + MAX_BATCH_DELETE);
      try {
        if (chunk.length > 1 && !this.#batchUnsupported) {
          if (await this.#deleteBatch(chunk, signal)) continue;
          this.#batchUnsupported = true;
        }
        await this.#deleteEach(chunk, signal);
      } catch (err) {
        throw this.#wrap(err, "delete", chunk[0]!, signal);
      }
    }
  }

  /** One Put Blob: L0 files and small snapshots. */
  async #putWhole(blob: BlockBlobClient, body: WriteBody, options: BlockBlobUploadOptions): Promise<number> {
    const data = await readWhole(body.open(), body.sizeBytes, `upload "${blob.name}" to ${this.describe()}`);
    await blob.upload(data, data.length, options);
    return data.length;
  }

  /**
   * Stages blocks with up to maxConnections in flight, then commits the list: readers see the old blob or the
   * whole new one. A local file's blocks stream from disk; other bodies use up to (maxConnections + 1) block
   * buffers.
   */
  async #putBlocks(
    blob: BlockBlobClient,
    body: WriteBody,
    options: BlockBlobUploadOptions,
    signal?: AbortSignal,
  ): Promise<number> {
    // A fresh prefix per attempt keeps a failed attempt's uncommitted blocks out of this one's list.
    const tag = crypto.randomUUID().slice(0, 8);
    const ids: string[] = [];
    const idOf = (index: number) => ids[index] = btoa(`${tag}-${String(index).padStart(6, "0")}`);
    const concurrency = this.#spec.maxConnections;
    const what = `upload "${blob.name}" to ${this.describe()}`;
    if (body.localPath !== undefined) {
      // Each block streams from its range of the file; the SDK calls the factory again for a retry.
      await sendFileParts(
        body.localPath,
        { sizeBytes: body.sizeBytes, partSize: this.#blockSize, concurrency, what, signal, pace: body.pace },
        async (range, index, abortSignal) => {
          await blob.stageBlock(idOf(index), () => openRange(range), range.length, { abortSignal });
        },
      );
    } else {
      await sendInParts(body.open(), {
        sizeBytes: body.sizeBytes,
        pool: partBuffers(this.#blockSize, concurrency + 1),
        concurrency,
        what,
        signal,
      }, async (block, index, abortSignal) => {
        await blob.stageBlock(idOf(index), block, block.length, { abortSignal });
      });
    }
    await blob.commitBlockList(ids, options);
    return body.sizeBytes;
  }

  /** Blob batch, 256 deletes per request; false when the account does not support batches. */
  async #deleteBatch(keys: string[], signal?: AbortSignal): Promise<boolean> {
    const container = await this.#container();
    let response;
    try {
      response = await container.getBlobBatchClient().deleteBlobs(
        keys.map((k) => container.getBlobClient(k)),
        { abortSignal: signal },
      );
    } catch (err) {
      // Accounts with a hierarchical namespace refuse batches; plain deletes still work there.
      if (isRestError(err) && [400, 405, 501].includes(err.statusCode ?? 0)) return false;
      throw err;
    }
    for (const [i, sub] of response.subResponses.entries()) {
      if (sub.status < 300 || sub.errorCode === "BlobNotFound") continue;
      const key = keys[i] ?? keys[0]!;
      throw new StorageError(
        `Cannot delete "${key}" in ${this.describe()}: ${sub.errorCode ?? `HTTP ${sub.status}`}`,
        { retriable: isRetriableStatus(sub.status) },
      );
    }
    return true;
  }

  async #deleteEach(keys: string[], signal?: AbortSignal): Promise<void> {
    const container = await this.#container();
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await container.getBlobClient(key).deleteIfExists({ abortSignal: signal });
      }
    };
    const workers = Array.from({ length: Math.min(this.#spec.maxConnections, keys.length) }, worker);
    await Promise.all(workers);
  }

  /** Native errors → StorageError; the message names the key and the replica and never holds a secret. */
  #wrap(err: unknown, verb: string, key: string, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof StorageError) return err;
    const what = `Cannot ${verb} "${key}" in ${this.describe()}`;
    if (isCredentialError(err)) {
      const { reason, hint } = credentialProblem(err);
      return new StorageError(`${what}: ${this.#redact(reason)}`, { hint, cause: err });
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      return new StorageError(`${what}: ${this.#redact(err.message)}`, {
        cause: err,
        hint: "walship runs with scoped Deno permissions; the message names the one missing",
      });
    }
    if (!isRestError(err)) {
      const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
      return new StorageError(`${what}: ${this.#redact(message ?? "")}`, { cause: err, retriable: true });
    }
    if (err.statusCode === undefined) {
      const reason = err.code ?? this.#redact(err.message.split("\n")[0]!);
      // A certificate that fails verification fails the same way next time.
      const badCertificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(reason);
      return new StorageError(`${what}: network error (${reason})`, {
        cause: err,
        retriable: !badCertificate,
        ...(badCertificate
          ? { hint: "the endpoint's TLS certificate is not trusted (DENO_CERT adds a CA)" }
          : {}),
      });
    }
    return this.#serviceError(err.statusCode, err.code, what, err);
  }

  #serviceError(status: number, code: string | undefined, what: string, cause: unknown): StorageError {
    if (code === "BlobNotFound" || (status === 404 && code === undefined)) {
      return new NotFoundError(`${what}: not found`, { cause });
    }
    if (code === "ContainerNotFound") {
      return new StorageError(`${what}: container "${this.#spec.container}" does not exist`, {
        cause,
        hint: `create it (az storage container create --name ${this.#spec.container}) or fix the URL`,
      });
    }
    if (status === 401 || status === 403) {
      return new StorageError(`${what}: access denied (${code ?? `HTTP ${status}`})`, {
        cause,
        hint: this.connection.auth.method === "sas"
          ? "check the SAS token: its permissions (rwdlac), expiry and container"
          : "check the account name and key, or the identity's role (Storage Blob Data Contributor)",
      });
    }
    return new StorageError(`${what}: ${code ?? `HTTP ${status}`}`, {
      cause,
      retriable: isRetriableStatus(status) || code === "ServerBusy" || code === "OperationTimedOut",
    });
  }

  #redact(text: string): string {
    let out = text.replace(/([?&]sig=)[^&\s"]+/gi, "$1REDACTED");
    for (const secret of this.#secrets) out = out.replaceAll(secret, "REDACTED");
    return out;
  }
}

/** The SDK's RestError, recognised without importing the SDK. */
function isRestError(err: unknown): err is Error & { statusCode?: number; code?: string } {
  return err instanceof Error && err.name === "RestError";
}

function isRetriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Go's time.RFC3339Nano for a millisecond instant, as Litestream writes it: trailing zeros trimmed. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, "Z");
}

/** The response's Content-Length, when it has a valid one. */
function contentLength(response: Response): number | undefined {
  const n = Number(response.headers.get("content-length") ?? NaN);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
