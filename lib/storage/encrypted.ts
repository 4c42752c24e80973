/**
 * A ReplicaStore decorator for client-side encryption with age (typage): every object written is a
 * standard age file, encrypted as it streams in age's 64 KiB STREAM chunks, and every object read is
 * decrypted the same way. The adapters inside see only opaque bytes.
 *
 * Whether an object is encrypted is read from its first bytes (age's `age-encryption.org/v1` line, an
 * LTX file's `LTX1`), not from object metadata, so it works the same on every backend and for objects
 * copied between them. A store without keys still checks, so reading an encrypted replica without a
 * key is one clear error instead of a checksum failure.
 *
 * Sizes: a listing reports the stored (ciphertext) size in `sizeBytes` and, computed from it, the LTX
 * size in `ltxSizeBytes`. age's overhead is fixed for a given set of recipients (header + 16-byte nonce
 * + 16 bytes per 64 KiB chunk), so an upload's size is known before it starts and nothing is spooled.
 *
 * Ranged reads (only used to resume a broken download, lib/engine/resumable.ts) start again from the
 * first byte and drop the plaintext before the offset: simple, and correct whatever chunk it was in.
 */
import { Decrypter, Encrypter, identityToRecipient } from "age-encryption";
import { type AgeKeys, canDecrypt } from "../config/age_keys.ts";
import { CorruptionError, StorageError, WalshipError } from "../util/errors.ts";
import { openLazily } from "../util/streams.ts";
import { AGE_MAGIC, fileName, LTX_MAGIC, peek, startsWith } from "./encryption.ts";
import { ScryptIdentity, ScryptRecipient } from "./age_scrypt.ts";
import type { ByteRange, LtxFileInfo, LtxFileRef, ReplicaStore, WriteBody } from "./store.ts";

const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;

/** The age-encrypting store; lib/storage/encryption.ts loads this module (and typage) on first use. */
export class EncryptedStore implements ReplicaStore {
  #inner: ReplicaStore;
  #keys: AgeKeys;
  #encrypter: Promise<Encrypter> | null = null;
  #decrypter: Decrypter | null = null;
  /** Header + nonce bytes of the files this store writes. */
  #prefixBytes: Promise<number> | null = null;

  constructor(inner: ReplicaStore, keys: AgeKeys) {
    this.#inner = inner;
    this.#keys = keys;
    if (canDecrypt(keys)) {
      const decrypter = new Decrypter();
      for (const identity of keys.identities) decrypter.addIdentity(identity);
      if (keys.passphrase !== undefined) decrypter.addIdentity(new ScryptIdentity([keys.passphrase]));
      this.#decrypter = decrypter;
    }
  }

  describe(): string {
    return this.#inner.describe();
  }

  remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void> {
    return this.#inner.remove(files, signal);
  }

  async list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    const files = await this.#inner.list(level, signal);
    if (files.length === 0) return files;
    const prefixBytes = await this.#prefix();
    return files.map((f) => {
      const ltxSizeBytes = plaintextBytes(f.sizeBytes - prefixBytes);
      return ltxSizeBytes === null ? f : { ...f, ltxSizeBytes };
    });
  }

  async write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo> {
    const sizeBytes = await this.#prefix() + ciphertextBytes(body.sizeBytes);
    const encrypted: WriteBody = {
      sizeBytes,
      open: () =>
        openLazily(async () => {
          const stream = await (await this.#encrypterFor()).encrypt(body.open());
          if (stream.size(body.sizeBytes) !== sizeBytes) {
            await stream.cancel();
            throw new StorageError(`Cannot encrypt ${fileName(this.#inner, file)}: age header size changed`);
          }
          return stream;
        }),
    };
    const stored = await this.#inner.write(file, encrypted, signal);
    return { ...stored, ltxSizeBytes: body.sizeBytes };
  }

  async open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const name = fileName(this.#inner, file);
    if (!this.#decrypter) {
      throw new WalshipError(`Cannot read ${name}: age recipients encrypt but cannot decrypt`, {
        hint: "this replica is write-only here; restore where an identity or the passphrase is available",
      });
    }
    const stored = await this.#inner.open(file, undefined, signal);
    const { head, rest } = await peek(stored, AGE_MAGIC.length);
    if (!startsWith(head, AGE_MAGIC)) {
      await rest.cancel();
      if (startsWith(head, LTX_MAGIC)) {
        throw new WalshipError(`Cannot read ${name}: it is not encrypted, but age keys were given`, {
          hint: "read a plaintext replica without age keys; walship never mixes the two in one replica",
        });
      }
      throw new CorruptionError(`Cannot read ${name}: not an age file`);
    }
    const fromStore = new WeakSet<object>();
    let plaintext: ReadableStream<Uint8Array>;
    try {
      plaintext = await this.#decrypter.decrypt(remember(rest, fromStore));
    } catch (err) {
      if (isObject(err) && fromStore.has(err)) throw err;
      if (err instanceof WalshipError) throw err;
      if (/no identity matched/.test(String(err))) {
        throw new WalshipError(`Cannot decrypt ${name}: no given identity or passphrase matches it`, {
          hint: "check the identity file or passphrase; the replica was encrypted to other keys",
        });
      }
      throw new CorruptionError(`Cannot decrypt ${name}: its age header is damaged or was modified`, {
        cause: err,
      });
    }
    return slice(
      plaintext,
      range,
      (err) =>
        isObject(err) && fromStore.has(err)
          ? err
          : new CorruptionError(`Cannot decrypt ${name}: the ciphertext is damaged or was modified`, {
            cause: err,
          }),
    );
  }

  #encrypterFor(): Promise<Encrypter> {
    this.#encrypter ??= (async () => {
      const encrypter = new Encrypter();
      if (this.#keys.passphrase !== undefined) {
        encrypter.addRecipient(new ScryptRecipient(this.#keys.passphrase));
        return encrypter;
      }
      const recipients = this.#keys.recipients.length > 0
        ? this.#keys.recipients
        : await Promise.all(this.#keys.identities.map((i) => identityToRecipient(i)));
      for (const recipient of recipients) encrypter.addRecipient(recipient);
      return encrypter;
    })();
    return this.#encrypter;
  }

  /** Measured once by encrypting nothing; a passphrase store measures without a derivation. */
  #prefix(): Promise<number> {
    this.#prefixBytes ??= (async () => {
      const encrypter = this.#keys.passphrase === undefined ? await this.#encrypterFor() : probeEncrypter();
      const stream = await encrypter.encrypt(new ReadableStream({ start: (c) => c.close() }));
      await stream.cancel();
      return stream.size(0) - ciphertextBytes(0);
    })();
    return this.#prefixBytes;
  }
}

/** An Encrypter whose scrypt stanza has the size of a real one, for measuring (its key is never used). */
function probeEncrypter(): Encrypter {
  const encrypter = new Encrypter();
  encrypter.addRecipient(new ScryptRecipient("", { key: new Uint8Array(32) }));
  return encrypter;
}

/** age STREAM payload size for `plain` bytes: 16 bytes of tag per 64 KiB chunk, at least one chunk. */
export function ciphertextBytes(plain: number): number {
  return plain + TAG_BYTES * Math.max(1, Math.ceil(plain / CHUNK_BYTES));
}

/** The inverse of ciphertextBytes, or null for a size no age payload has. */
export function plaintextBytes(payload: number): number | null {
  if (payload < TAG_BYTES) return null;
  const full = Math.floor(payload / (CHUNK_BYTES + TAG_BYTES));
  const last = payload % (CHUNK_BYTES + TAG_BYTES);
  if (last > 0 && last < TAG_BYTES) return null;
  if (last === TAG_BYTES && full > 0) return null; // only a lone first chunk may be empty
  return payload - TAG_BYTES * (full + (last > 0 ? 1 : 0));
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

/** The same stream, with every error it raises recorded in `errors`, to tell store faults from crypto ones. */
function remember(stream: ReadableStream<Uint8Array>, errors: WeakSet<object>): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        if (isObject(err)) errors.add(err);
        throw err;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** The bytes of `stream` from `range.offset`, at most `range.length` of them; errors go through `mapError`. */
function slice(
  stream: ReadableStream<Uint8Array>,
  range: ByteRange | undefined,
  mapError: (err: unknown) => unknown,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  let skip = range?.offset ?? 0;
  let left = range?.length ?? Infinity;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let next;
        try {
          next = await reader.read();
        } catch (err) {
          throw mapError(err);
        }
        if (next.done) return controller.close();
        let chunk = next.value;
        if (skip > 0) {
          const dropped = Math.min(skip, chunk.length);
          skip -= dropped;
          chunk = chunk.subarray(dropped);
        }
        if (chunk.length === 0) continue;
        if (chunk.length >= left) {
          controller.enqueue(chunk.subarray(0, left));
          controller.close();
          await reader.cancel().catch(() => {});
          return;
        }
        left -= chunk.length;
        return controller.enqueue(chunk);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
