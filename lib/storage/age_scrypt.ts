/**
 * age's passphrase encryption (the scrypt recipient stanza of the age v1 spec) with the scrypt work done
 * once instead of per file. typage derives the wrapping key afresh for every file: about 2 s of CPU and
 * 256 MiB at age's work factor 18, which would stall replication (one upload per second) and restores
 * (one derivation per file). Here a writer picks one random salt per process, so it derives once, while
 * every file still gets its own random file key; a reader derives once per salt it meets. The stanzas
 * are age's own: `age -d` and any age implementation open these files with the passphrase.
 */
import { type Identity, type Recipient, Stanza } from "age-encryption";
import { createCipheriv, createDecipheriv, scrypt } from "node:crypto";
import { Mutex } from "../util/mutex.ts";

const LABEL = "age-encryption.org/v1/scrypt";
/** age's default work factor (log2 of scrypt's N). */
export const SCRYPT_LOG_N = 18;
/** The largest work factor read (as typage): 2^20 already needs 1 GiB. */
const MAX_LOG_N = 20;
const ZERO_NONCE = new Uint8Array(12);

/** One derivation at a time: each holds 128·N·r bytes (256 MiB at 18). */
const derivations = new Mutex();

function deriveKey(passphrase: string, salt: Uint8Array, logN: number): Promise<Uint8Array> {
  const labelAndSalt = new Uint8Array(LABEL.length + salt.length);
  labelAndSalt.set(new TextEncoder().encode(LABEL));
  labelAndSalt.set(salt, LABEL.length);
  const N = 2 ** logN;
  return derivations.run(() =>
    new Promise((resolve, reject) =>
      scrypt(passphrase, labelAndSalt, 32, { N, r: 8, p: 1, maxmem: 129 * N * 8 + (1 << 20) }, (err, key) => {
        if (err) reject(err);
        else resolve(new Uint8Array(key));
      })
    )
  );
}

/** ChaCha20-Poly1305 under a zero nonce, as age wraps file keys: 16 bytes in, 32 out. */
function wrapFileKey(key: Uint8Array, fileKey: Uint8Array): Uint8Array {
  const cipher = createCipheriv("chacha20-poly1305", key, ZERO_NONCE, { authTagLength: 16 });
  const sealed = new Uint8Array(fileKey.length + 16);
  sealed.set(cipher.update(fileKey));
  cipher.final();
  sealed.set(cipher.getAuthTag(), fileKey.length);
  return sealed;
}

/** The file key, or null when `key` (a wrong passphrase) does not authenticate `body`. */
function unwrapFileKey(key: Uint8Array, body: Uint8Array): Uint8Array | null {
  try {
    const decipher = createDecipheriv("chacha20-poly1305", key, ZERO_NONCE, { authTagLength: 16 });
    decipher.setAuthTag(body.subarray(16));
    const fileKey = new Uint8Array(decipher.update(body.subarray(0, 16)));
    decipher.final();
    return fileKey;
  } catch {
    return null;
  }
}

function base64NoPad(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}

/** Strict unpadded standard base64, as age writes it; null for anything else. */
function fromBase64NoPad(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = Uint8Array.from(atob(text + "=".repeat((4 - text.length % 4) % 4)), (c) => c.charCodeAt(0));
  return base64NoPad(bytes) === text ? bytes : null;
}

/** Encrypts file keys to a passphrase, with one salt (and one scrypt derivation) for this object's life. */
export class ScryptRecipient implements Recipient {
  #salt = crypto.getRandomValues(new Uint8Array(16));
  #logN: number;
  #passphrase: string;
  #key: Promise<Uint8Array> | null;

  /** `key` skips the derivation: for measuring header sizes only. */
  constructor(passphrase: string, options: { logN?: number; key?: Uint8Array } = {}) {
    this.#passphrase = passphrase;
    this.#logN = options.logN ?? SCRYPT_LOG_N;
    this.#key = options.key ? Promise.resolve(options.key) : null;
  }

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    this.#key ??= deriveKey(this.#passphrase, this.#salt, this.#logN);
    this.#key.catch(() => (this.#key = null));
    const args = ["scrypt", base64NoPad(this.#salt), String(this.#logN)];
    return [new Stanza(args, wrapFileKey(await this.#key, fileKey))];
  }
}

/** Decrypts file keys wrapped to any of `passphrases`, deriving once per salt and work factor. */
export class ScryptIdentity implements Identity {
  #passphrases: string[];
  #keys = new Map<string, Promise<Uint8Array>>();

  constructor(passphrases: string[]) {
    this.#passphrases = passphrases;
  }

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    const stanza = stanzas.find((s) => s.args[0] === "scrypt");
    if (!stanza) return null;
    // The spec's rules, as typage checks them: a passphrase file has no other recipient.
    if (stanzas.length !== 1) throw new Error("scrypt stanza is not alone in the header");
    const [, saltText = "", logNText = ""] = stanza.args;
    const salt = fromBase64NoPad(saltText);
    const logN = Number(logNText);
    if (
      stanza.args.length !== 3 || salt?.length !== 16 || !/^[1-9][0-9]*$/.test(logNText) ||
      stanza.body.length !== 32
    ) {
      throw new Error("invalid scrypt stanza");
    }
    if (logN > MAX_LOG_N) throw new Error("scrypt work factor is too high");
    for (const [i, passphrase] of this.#passphrases.entries()) {
      const id = `${i}:${logN}:${saltText}`;
      let key = this.#keys.get(id);
      if (!key) {
        key = deriveKey(passphrase, salt, logN);
        this.#keys.set(id, key);
        key.catch(() => this.#keys.delete(id));
      }
      const fileKey = unwrapFileKey(await key, stanza.body);
      if (fileKey) return fileKey;
    }
    return null;
  }
}
