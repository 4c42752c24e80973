/** Keeping credentials out of config dumps and error messages. */
import { UsageError } from "../util/errors.ts";
import { redactUrl } from "./s3_url.ts";

/** Spec fields that hold credentials (camelCase as in the specs). */
const SECRET_FIELD =
  /^(accessKeyId|secretAccessKey|accountKey|sasToken|sseCustomerKey|password|token|passphrase|identities)$/i;
/** YAML keys that hold credentials. */
const SECRET_KEY_LINE =
  /^[\s-]*["']?(access-key-id|secret-access-key|account-key|sas-token|sse-customer-key|passphrase)["']?\s*:\s*(.*)$/;
/** age secret keys, wherever they are written. */
const AGE_IDENTITY = /AGE-SECRET-KEY-[0-9A-Z-]+/g;

export const REDACTED = "REDACTED";

/** A deep copy of a config (or any part of it) with credentials replaced, for `databases -json` and logs. */
export function redactedConfig<T>(config: T): T {
  return redactValue(config) as T;
}

function redactValue(value: unknown, key = ""): unknown {
  if (typeof value === "string") {
    if (SECRET_FIELD.test(key) && value !== "") return REDACTED;
    return value.includes("://") ? redactUrl(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, key));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, k)]));
  }
  return value;
}

/**
 * The credential values written in a config text (after expansion): what an error about that text must
 * never show. Values under four characters are left out, as replacing them would garble messages.
 */
export function secretsIn(text: string): string[] {
  const found = new Set<string>(text.match(AGE_IDENTITY) ?? []);
  for (const line of text.split(/\r?\n/)) {
    const m = SECRET_KEY_LINE.exec(line);
    if (!m) continue;
    const value = m[2]!.replace(/\s+#.*$/, "").trim().replace(/^(["'])(.*)\1$/, "$2");
    if (value.length >= 4) found.add(value);
  }
  return [...found];
}

/** The error with every secret in its message and hint replaced; other errors pass through. */
export function scrubError(err: unknown, secrets: string[]): unknown {
  if (!(err instanceof UsageError) || secrets.length === 0) return err;
  const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join(REDACTED), text);
  const message = scrub(err.message);
  const hint = err.hint === undefined ? undefined : scrub(err.hint);
  if (message === err.message && hint === err.hint) return err;
  return new UsageError(message, hint === undefined ? {} : { hint });
}
