/** AWS SDK and network failures → one-line walship errors: not found, retriable or not, with a hint. */
import { NotFoundError, StorageError } from "../util/errors.ts";

export interface S3FailureContext {
  /** What was being done, e.g. `read "db/0000/…ltx"`. */
  what: string;
  /** The replica, as describe() prints it. */
  where: string;
  bucket: string;
  /** Strings that must never reach a message. */
  secrets: string[];
}

const RETRIABLE = new Set([
  "SlowDown",
  "BadDigest", // the body was damaged on the way: sending it again may go through
  "XAmzContentSHA256Mismatch", // the same, caught by the signed payload's SHA-256
  "InternalError",
  "ServiceUnavailable",
  "RequestTimeout",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "TimeoutError",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
const DENIED = new Set([
  "AccessDenied",
  "Forbidden",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "AllAccessDisabled",
]);
const POLICY_HINT = "check the keys, and that the policy allows s3:ListBucket, s3:GetObject, s3:PutObject, " +
  "s3:DeleteObject (restore needs only the first two)";

/** An SDK or network failure as a one-line walship error: not found, retriable or not, with a hint. */
export function s3Failure(err: unknown, ctx: S3FailureContext): Error {
  if (err instanceof StorageError) return err;
  const e = (err ?? {}) as {
    name?: string;
    Code?: string;
    code?: unknown;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const name = e.Code ?? e.name ?? "Error";
  const code = typeof e.code === "string" ? e.code : "";
  const status = e.$metadata?.httpStatusCode;
  let reason = (e.message ?? "").split("\n")[0]!.slice(0, 300);
  for (const secret of ctx.secrets) reason = reason.replaceAll(secret, "REDACTED");
  const fail = (detail: string, options: { retriable?: boolean; hint?: string } = {}) =>
    new StorageError(`Cannot ${ctx.what} in ${ctx.where}: ${detail}`, { cause: err, ...options });
  if (name === "NoSuchKey" || (status === 404 && name === "NotFound")) {
    return new NotFoundError(`Cannot ${ctx.what} in ${ctx.where}: not found`, { cause: err });
  }
  if (name === "NoSuchBucket") {
    return fail(`bucket "${ctx.bucket}" does not exist`, {
      hint: "create the bucket first (walship never creates buckets), or check its name, region and endpoint",
    });
  }
  if (name === "CredentialsProviderError" || /could not load credentials/i.test(reason)) {
    return fail("no S3 credentials found", {
      hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or LITESTREAM_*), or access-key-id and " +
        "secret-access-key in the config",
    });
  }
  if (DENIED.has(name) || status === 403) return fail(`access denied (${name})`, { hint: POLICY_HINT });
  if (name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed" || status === 301) {
    return fail(`the bucket is in another region (${name})`, { hint: "set ?region=REGION (config: region)" });
  }
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    // Deno's node:https reads NODE_EXTRA_CA_CERTS only with full --allow-sys ("ca" cannot be scoped).
    const hint = /sys access to "ca"/.test(reason)
      ? "NODE_EXTRA_CA_CERTS is set: unset it, or run walship with --allow-sys"
      : "run walship with --allow-net for this endpoint";
    return fail(`permission denied by Deno: ${reason}`, { hint });
  }
  if (/certificate|CERT_|UnknownIssuer|self[- ]signed/i.test(`${code} ${reason}`)) {
    return fail(`TLS certificate not trusted: ${reason || code}`, {
      hint: "give the endpoint a trusted certificate, or for a test server set skipVerify=true",
    });
  }
  // No status, or a success status, means the transport broke (e.g. a body cut short): try again.
  const retriable = RETRIABLE.has(name) || RETRIABLE.has(code) || status === undefined || status < 400 ||
    status >= 500 || status === 408 || status === 429;
  const detail = status === undefined
    ? (reason || name)
    : `${name} (HTTP ${status})${reason && reason !== name ? `: ${reason}` : ""}`;
  return fail(detail, { retriable });
}
