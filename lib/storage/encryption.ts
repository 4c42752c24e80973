/**
 * Encryption as a store decorator (see lib/storage/encrypted.ts for how objects are encrypted). This
 * module knows age files only by their first bytes: typage and the encrypting store load on first use,
 * so the ~20 MiB they take stay out of every process whose replicas have no age keys.
 */
import type { AgeKeys } from "../config/age_keys.ts";
import { formatTxid } from "../ltx/txid.ts";
import { concatBytes } from "../util/bytes.ts";
import { WalshipError } from "../util/errors.ts";
import type { ByteRange, LtxFileInfo, LtxFileRef, ReplicaStore, WriteBody } from "./store.ts";

export const AGE_MAGIC = new TextEncoder().encode("age-encryption.org/v1\n");
export const LTX_MAGIC = new TextEncoder().encode("LTX1");

const KEY_HINT = "pass -age-identity-file or -age-passphrase-file, or set age: on the replica in the config";

/**
 * Wraps `store` so objects are age-encrypted on write and decrypted on read. Without `keys`, objects
 * pass through as they are, but an encrypted one is refused with a clear error.
 */
export function withEncryption(store: ReplicaStore, keys?: AgeKeys): ReplicaStore {
  return keys ? new LazyEncryptedStore(store, keys) : new PlaintextStore(store);
}

export function fileName(store: ReplicaStore, file: LtxFileRef): string {
  return `${store.describe()} L${file.level} ${formatTxid(file.minTxid)}-${formatTxid(file.maxTxid)}`;
}

/** The passthrough for replicas without keys: only checks that what it reads is not age ciphertext. */
class PlaintextStore implements ReplicaStore {
  #inner: ReplicaStore;
  constructor(inner: ReplicaStore) {
    this.#inner = inner;
  }
  describe(): string {
    return this.#inner.describe();
  }
  list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    return this.#inner.list(level, signal);
  }
  write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo> {
    return this.#inner.write(file, body, signal);
  }
  remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void> {
    return this.#inner.remove(files, signal);
  }
  async open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const stream = await this.#inner.open(file, range, signal);
    if (range?.offset) return stream;
    const { head, rest } = await peek(stream, AGE_MAGIC.length);
    if (startsWith(head, AGE_MAGIC)) {
      await rest.cancel();
      throw new WalshipError(
        `Cannot read ${fileName(this.#inner, file)}: the replica is encrypted with age`,
        {
          hint: KEY_HINT,
        },
      );
    }
    return rest;
  }
}

/** The encrypting store, created when a call first needs it. */
class LazyEncryptedStore implements ReplicaStore {
  #inner: ReplicaStore;
  #keys: AgeKeys;
  #store: Promise<ReplicaStore> | undefined;
  constructor(inner: ReplicaStore, keys: AgeKeys) {
    this.#inner = inner;
    this.#keys = keys;
  }
  #encrypted(): Promise<ReplicaStore> {
    return this.#store ??= import("./encrypted.ts").then(({ EncryptedStore }) =>
      new EncryptedStore(this.#inner, this.#keys)
    );
  }
  describe(): string {
    return this.#inner.describe();
  }
  async list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    return (await this.#encrypted()).list(level, signal);
  }
  async open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    return (await this.#encrypted()).open(file, range, signal);
  }
  async write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo> {
    return (await this.#encrypted()).write(file, body, signal);
  }
  async remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void> {
    return (await this.#encrypted()).remove(files, signal);
  }
}

export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** Reads at least `n` bytes (fewer at the end), and a stream that still yields everything. */
export async function peek(
  stream: ReadableStream<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; rest: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  try {
    while (size < n) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        break;
      }
      chunks.push(next.value);
      size += next.value.length;
    }
  } catch (err) {
    reader.releaseLock();
    throw err;
  }
  const head = chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.length > 0) controller.enqueue(head);
      if (done) controller.close();
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return { head, rest };
}
