/**
 * age keys of one replica: Litestream v0.3's `age: {identities, recipients}`, key files as age-keygen
 * writes them, and walship's passphrase. Only shapes are checked here; the keys themselves are parsed
 * by lib/storage/encrypted.ts. No message ever quotes a key or a passphrase.
 */
import { UsageError } from "../util/errors.ts";

type Typage = typeof import("age-encryption");
let typage: Typage | undefined;

/**
 * Loads age (typage) for the key checks below. It takes ~20 MiB resident, so it is loaded only where
 * age keys are given: by loadConfig when the file mentions age, and by the age flags.
 */
export async function loadAge(): Promise<void> {
  typage ??= await import("age-encryption");
}

function age(): Typage {
  if (!typage) throw new Error("age keys checked before loadAge()");
  return typage;
}

export interface AgeKeys {
  /** Public keys (`age1…`) every uploaded object is encrypted to. */
  recipients: string[];
  /** Secret keys (`AGE-SECRET-KEY-1…`) that decrypt. With no recipients, uploads go to their public keys. */
  identities: string[];
  /** A passphrase (age's scrypt recipient) instead of keys. */
  passphrase?: string;
}

/** Whether these keys can decrypt (an identity or a passphrase), rather than only encrypt. */
export function canDecrypt(keys: AgeKeys): boolean {
  return keys.identities.length > 0 || keys.passphrase !== undefined;
}

/** The lines of a key file that hold keys: not blank, not `#` comments (age's key file format). */
function keyLines(text: string): { line: number; text: string }[] {
  return text.split(/\r?\n/).map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter((l) => l.text !== "" && !l.text.startsWith("#"));
}

/** Identities from an identity file's text (age-keygen output); `where` names the file in errors. */
export function parseIdentities(text: string, where: string): string[] {
  const lines = keyLines(text);
  for (const { line, text } of lines) checkIdentity(text, `${where} line ${line}`);
  if (lines.length === 0) throw new UsageError(`${where} holds no age identity`);
  return lines.map((l) => l.text);
}

/** Recipients from a recipients file's text (one `age1…` per line). */
export function parseRecipients(text: string, where: string): string[] {
  const lines = keyLines(text);
  for (const { line, text } of lines) checkRecipient(text, `${where} line ${line}`);
  if (lines.length === 0) throw new UsageError(`${where} holds no age recipient`);
  return lines.map((l) => l.text);
}

/** Throws unless `text` is an identity typage accepts (X25519 or post-quantum hybrid). */
export function checkIdentity(text: string, where: string): void {
  try {
    new (age().Decrypter)().addIdentity(text);
    return;
  } catch {
    // typage's message may quote the key: replaced below.
  }
  throw new UsageError(`${where} is not an age identity`, {
    hint: text.startsWith("AGE-PLUGIN-") || text.startsWith("-----BEGIN")
      ? "plugin and SSH identities are not supported; use an age-keygen key (AGE-SECRET-KEY-1...)"
      : "expected a key as age-keygen writes it: AGE-SECRET-KEY-1...",
  });
}

/** Throws unless `text` is a recipient typage accepts (`age1…`, `age1pq1…`, `age1tag1…`). */
export function checkRecipient(text: string, where: string): void {
  try {
    new (age().Encrypter)().addRecipient(text);
    return;
  } catch {
    // Rethrown below in our words.
  }
  throw new UsageError(`${where} is not an age recipient`, {
    hint: text.startsWith("ssh-")
      ? "SSH recipients are not supported; use an age-keygen public key (age1...)"
      : "expected a public key as age-keygen -y prints it: age1...",
  });
}

/** Rejects combinations age cannot encrypt with; `where` names the settings in the message. */
export function checkAgeKeys(keys: AgeKeys, where: string): void {
  const hasKeys = keys.recipients.length > 0 || keys.identities.length > 0;
  if (keys.passphrase !== undefined && hasKeys) {
    throw new UsageError(`${where} has both a passphrase and keys`, {
      hint: "age encrypts a file to a passphrase alone: keep either passphrase or identities/recipients",
    });
  }
  if (keys.passphrase === "") throw new UsageError(`${where} has an empty passphrase`);
  if (keys.passphrase === undefined && !hasKeys) {
    throw new UsageError(`${where} has no keys`, {
      hint: "set recipients, identities (or their -file forms) or passphrase; " +
        "an unset ${VARIABLE} expands to nothing",
    });
  }
}

/** Reads a key or passphrase file; `what` says which in errors ("identity file"). */
export function readKeyFileSync(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "not found"
      : err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable
      ? "permission denied"
      : err instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : "cannot be read";
    throw new UsageError(`age ${what} "${path}": ${reason}`, { cause: err });
  }
}

/** A passphrase file's passphrase: its first line, without the line ending (as restic reads one). */
export function passphraseFromFile(text: string, where: string): string {
  const passphrase = text.split(/\r?\n/)[0] ?? "";
  if (passphrase === "") throw new UsageError(`${where} starts with an empty line`);
  return passphrase;
}
