/**
 * Builds the AWS SDK client an S3Store talks through: credentials in compat.md's order, the region,
 * checksum and TLS settings for custom endpoints, and the request tweaks Litestream applies.
 */
import { GetBucketLocationCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { Agent as HttpsAgent } from "node:https";
import type { S3Spec } from "../config/s3_url.ts";
import { nativeFetchTrustsTheSameCAs } from "./native_fetch.ts";
import { s3Failure } from "./s3_errors.ts";

export { readS3Env, type S3Credentials, s3Credentials, type S3Env } from "./s3_credentials.ts";
import type { S3Credentials } from "./s3_credentials.ts";

export interface S3ClientOptions {
  credentials?: S3Credentials;
  /** Tries per request inside the SDK. @default 3 */
  maxAttempts?: number;
  /** The replica as printed, for errors. */
  where: string;
}

/** The SDK client settings for a spec, before the region is known. */
export function s3ClientConfig(spec: S3Spec, options: S3ClientOptions): S3ClientConfig {
  const config: S3ClientConfig = {
    maxAttempts: options.maxAttempts ?? 3,
    forcePathStyle: spec.forcePathStyle,
    // Connect within 10 s; a socket idle for 60 s fails its request (which is retried).
    requestHandler: {
      connectionTimeout: 10_000,
      socketTimeout: 60_000,
      // Only this client's agent skips verification; the process default stays strict. `ca: []` keeps
      // Deno from loading NODE_EXTRA_CA_CERTS, which needs --allow-sys, for a check that is off anyway.
      ...(spec.skipVerify
        ? { httpsAgent: new HttpsAgent({ keepAlive: true, rejectUnauthorized: false, ca: [] }) }
        : {}),
    },
  };
  const creds = options.credentials;
  if (creds) {
    config.credentials = {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
    };
  }
  if (spec.endpoint) {
    // The SDK's default flexible checksums stream aws-chunked bodies, which many S3-compatible stores
    // reject or store verbatim (Litestream #918, #941): checksum only where the API requires one.
    config.endpoint = spec.endpoint;
    config.requestChecksumCalculation = "WHEN_REQUIRED";
    config.responseChecksumValidation = "WHEN_REQUIRED";
  }
  if (spec.bucket.startsWith("arn:")) config.useArnRegion = true;
  return config;
}

/** The clients an S3Store sends through: one for everything, one for downloads. */
export interface S3Clients {
  client: S3Client;
  /**
   * GetObject through Deno's native fetch: node:http's parser runs in script and was a tenth of a restore's
   * time. The same client as `client` where TLS verification is off (fetch cannot skip it per request) or
   * NODE_EXTRA_CA_CERTS is set (native_fetch.ts).
   * A response that stops mid-body is the reader's to notice (openResumable's idle timeout).
   */
  downloads: S3Client;
}

/** Ready clients: the spec's region, else the bucket's (GetBucketLocation), else us-east-1 with redirects. */
export async function createS3Clients(spec: S3Spec, options: S3ClientOptions): Promise<S3Clients> {
  const config = s3ClientConfig(spec, options);
  let region = spec.region;
  if (!region) {
    region = await bucketRegion(spec, config, options);
    if (!region) {
      region = "us-east-1";
      config.followRegionRedirects = true;
    }
  }
  const client = new S3Client({ ...config, region });
  addRequestTweaks(client, spec);
  if (spec.skipVerify || !nativeFetchTrustsTheSameCAs(spec.endpoint)) return { client, downloads: client };
  // Connecting and the response head within 60 s, as the node handler's socket timeout allows.
  const requestHandler = new FetchHttpHandler({ requestTimeout: 60_000 });
  const downloads = new S3Client({ ...config, region, requestHandler });
  addRequestTweaks(downloads, spec);
  return { client, downloads };
}

/** The bucket's region, or undefined when the policy does not allow asking (s3:GetBucketLocation). */
async function bucketRegion(
  spec: S3Spec,
  config: S3ClientConfig,
  options: S3ClientOptions,
): Promise<string | undefined> {
  const client = new S3Client({ ...config, region: "us-east-1" });
  try {
    const out = await client.send(new GetBucketLocationCommand({ Bucket: spec.bucket }));
    const location = out.LocationConstraint as string | undefined;
    if (!location) return "us-east-1";
    return location === "EU" ? "eu-west-1" : location;
  } catch (err) {
    const name = (err as { name?: string }).name ?? "";
    if (name === "AccessDenied" || name === "Forbidden") return undefined;
    throw s3Failure(err, {
      what: "look up the bucket region",
      where: options.where,
      bucket: spec.bucket,
      secrets: options.credentials ? [options.credentials.secretAccessKey] : [],
    });
  } finally {
    client.destroy();
  }
}

/** Litestream's request tweaks: Content-MD5 on DeleteObjects, unsigned payloads, Tigris consistency. */
function addRequestTweaks(client: S3Client, spec: S3Spec): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
      const headers = request?.headers;
      if (headers) {
        if (
          spec.requireContentMd5 && context.commandName === "DeleteObjectsCommand" &&
          typeof request.body === "string"
        ) {
          headers["content-md5"] = createHash("md5").update(request.body).digest("base64");
        }
        if (!spec.signPayload) headers["x-amz-content-sha256"] ??= "UNSIGNED-PAYLOAD";
        if (spec.provider === "tigris") headers["x-tigris-consistent"] = "true";
      }
      return next(args);
    },
    { step: "build", name: "walshipRequestTweaks" },
  );
}
