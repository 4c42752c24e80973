/**
 * Read-only views of a replica as the storage holds it, tool-agnostic: a file:// directory, an s3rver
 * bucket read straight from the server's data directory, or an Azurite container through the SDK. The
 * benchmark watches replicas through these, never through the proxy that counts the replicator's requests.
 */
import { join, relative } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";

export interface StoredObject {
  key: string;
  sizeBytes: number;
}

export interface ReplicaReader {
  /** Complete objects, keys relative to the replica root, in key order. */
  list(): Promise<StoredObject[]>;
  /** The first `length` bytes of an object (all of it without `length`). */
  read(key: string, length?: number): Promise<Uint8Array>;
  /** Frees clients; a no-op for disk readers. */
  close(): void;
}

/** A file:// replica directory; names with `.tmp` (either tool's temp files) are skipped. */
export function fileReader(root: string): ReplicaReader {
  return {
    async list() {
      const out: StoredObject[] = [];
      for await (const path of walk(root)) {
        if (path.includes(".tmp")) continue;
        const stat = await Deno.stat(path).catch(() => undefined);
        if (stat) out.push({ key: relative(root, path), sizeBytes: stat.size });
      }
      return out.sort((a, b) => a.key < b.key ? -1 : 1);
    },
    read: (key, length) => readHead(join(root, key), length),
    close() {},
  };
}

const S3RVER_OBJECT = "._S3rver_object";
const S3RVER_METADATA = "._S3rver_metadata.json";

/**
 * An s3rver bucket on disk (`<dataDir>/<bucket>/<key>._S3rver_object`). s3rver writes an object's metadata
 * file after its content, so an object counts as stored once its metadata file exists.
 */
export function s3rverReader(dataDir: string, bucket: string, prefix: string): ReplicaReader {
  const root = join(dataDir, bucket, prefix);
  return {
    async list() {
      const out: StoredObject[] = [];
      for await (const path of walk(root)) {
        if (!path.endsWith(S3RVER_METADATA)) continue;
        const objectPath = path.slice(0, -S3RVER_METADATA.length) + S3RVER_OBJECT;
        const stat = await Deno.stat(objectPath).catch(() => undefined);
        if (stat) {
          out.push({ key: relative(root, objectPath.slice(0, -S3RVER_OBJECT.length)), sizeBytes: stat.size });
        }
      }
      return out.sort((a, b) => a.key < b.key ? -1 : 1);
    },
    read: (key, length) => readHead(join(root, key + S3RVER_OBJECT), length),
    close() {},
  };
}

/** An Azurite container, listed and read with the account key (direct to the server, one try per call). */
export function azuriteReader(
  server: { endpoint: string; accountName: string; accountKey: string },
  container: string,
  prefix: string,
): ReplicaReader {
  const credential = new StorageSharedKeyCredential(server.accountName, server.accountKey);
  const client = new BlobServiceClient(server.endpoint, credential, { retryOptions: { maxTries: 1 } })
    .getContainerClient(container);
  const root = prefix.endsWith("/") ? prefix : `${prefix}/`;
  return {
    async list() {
      const out: StoredObject[] = [];
      for await (const blob of client.listBlobsFlat({ prefix: root })) {
        out.push({ key: blob.name.slice(root.length), sizeBytes: blob.properties.contentLength ?? 0 });
      }
      return out;
    },
    async read(key, length) {
      const buffer = await client.getBlobClient(root + key).downloadToBuffer(0, length);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    },
    close() {},
  };
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return; // not created yet, or removed while walking
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

async function readHead(path: string, length?: number): Promise<Uint8Array> {
  if (length === undefined) return await Deno.readFile(path);
  using file = await Deno.open(path);
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = await file.read(out.subarray(done));
    if (n === null) break;
    done += n;
  }
  return out.subarray(0, done);
}
