/** Error classes shared by every layer. Messages are one line for a user; `hint` says how to fix it. */

export interface WalshipErrorOptions extends ErrorOptions {
  /** One line telling the user what to do about it. */
  hint?: string;
}

/** Base class of every error meant for a user: `main.ts` prints its message (and hint) on one line. */
export class WalshipError extends Error {
  override name = "WalshipError";
  readonly hint?: string;
  constructor(message: string, options: WalshipErrorOptions = {}) {
    super(message, options);
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/** Bad flags, arguments or configuration: exit code 2. */
export class UsageError extends WalshipError {
  override name = "UsageError";
}

/** Bytes that fail a checksum, a magic number, a salt or a format rule. Never retried. */
export class CorruptionError extends WalshipError {
  override name = "CorruptionError";
}

export interface StorageErrorOptions extends WalshipErrorOptions {
  /** Whether trying again may succeed (network faults, 5xx, throttling). @default false */
  retriable?: boolean;
}

/** A replica store operation failed; the adapter decides whether it is worth retrying. */
export class StorageError extends WalshipError {
  override name = "StorageError";
  readonly retriable: boolean;
  constructor(message: string, options: StorageErrorOptions = {}) {
    super(message, options);
    this.retriable = options.retriable ?? false;
  }
}

/** The object, file or container asked for does not exist. */
export class NotFoundError extends StorageError {
  override name = "NotFoundError";
}

/** The message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
