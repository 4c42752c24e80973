/** Which static S3 credentials a replica uses, from its spec and the environment (no SDK needed). */
import type { S3Spec } from "../config/s3_url.ts";

/** Environment variables the S3 store reads, by name; tests pass a plain object. */
export type S3Env = Readonly<Record<string, string | undefined>>;

const ENV_NAMES = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "LITESTREAM_ACCESS_KEY_ID",
  "LITESTREAM_SECRET_ACCESS_KEY",
];

/** This process's credential variables (only those names, so `--allow-env` may be scoped to them). */
export function readS3Env(): S3Env {
  const env: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) env[name] = Deno.env.get(name);
  return env;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Where they came from, for logs: "config", "AWS_*" or "LITESTREAM_*". */
  source: string;
}

/**
 * Static credentials in compat.md's order: the spec's keys (the config layer fills global keys in), then
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (+AWS_SESSION_TOKEN), then LITESTREAM_*. Undefined means the
 * SDK's default chain (profiles, web identity, container and instance roles).
 */
export function s3Credentials(spec: S3Spec, env: S3Env): S3Credentials | undefined {
  if (spec.accessKeyId && spec.secretAccessKey) {
    return { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey, source: "config" };
  }
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    const creds: S3Credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      source: "AWS_*",
    };
    if (env.AWS_SESSION_TOKEN) creds.sessionToken = env.AWS_SESSION_TOKEN;
    return creds;
  }
  if (env.LITESTREAM_ACCESS_KEY_ID && env.LITESTREAM_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.LITESTREAM_ACCESS_KEY_ID,
      secretAccessKey: env.LITESTREAM_SECRET_ACCESS_KEY,
      source: "LITESTREAM_*",
    };
  }
  return undefined;
}
