/**
 * `s3://` replica URLs and YAML replica keys → one validated S3Spec. Both forms go through
 * s3SpecFromOptions, so a URL and the equivalent config give the same spec and the same errors.
 * Host forms, endpoint scheme rules and provider defaults follow Litestream v0.5 (see compat.md).
 */
import { UsageError } from "../util/errors.ts";

export type S3Spec = {
  type: "s3";
  /** Bucket name, or an access point ARN. */
  bucket: string;
  /** Key prefix without leading or trailing "/"; "" puts levels at the bucket root. */
  path: string;
  /** Absent: looked up with GetBucketLocation (AWS only; custom endpoints default to us-east-1). */
  region?: string;
  /** Custom endpoint with its scheme, e.g. `http://127.0.0.1:9000`. Absent: AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Skip TLS certificate verification (self-signed test servers only). */
  skipVerify: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Multipart part size in bytes; also the single-PUT threshold. Absent: 5 MiB. */
  partSize?: number;
  /** Parts uploaded at once. Absent: 5 (2 for Cloudflare R2). */
  concurrency?: number;
  storageClass?: string;
  /** Sign the payload hash (false sends UNSIGNED-PAYLOAD). */
  signPayload: boolean;
  /** Send Content-MD5 on DeleteObjects, which several S3-compatible stores demand. */
  requireContentMd5: boolean;
  /** The provider recognised from the endpoint host, for its quirks (e.g. "tigris", "r2"). */
  provider?: string;
};

/** YAML keys of an S3 replica (plus `type`). */
export const S3_REPLICA_KEYS = [
  "type",
  "url",
  "bucket",
  "path",
  "region",
  "endpoint",
  "force-path-style",
  "skip-verify",
  "access-key-id",
  "secret-access-key",
  "part-size",
  "concurrency",
  "storage-class",
  "sign-payload",
  "require-content-md5",
] as const;

/** URL query parameters, each with its kebab-case and camelCase spelling → the YAML key. */
const QUERY_KEYS: Record<string, string> = {
  endpoint: "endpoint",
  region: "region",
  "force-path-style": "force-path-style",
  forcePathStyle: "force-path-style",
  "skip-verify": "skip-verify",
  skipVerify: "skip-verify",
  "part-size": "part-size",
  partSize: "part-size",
  concurrency: "concurrency",
  "storage-class": "storage-class",
  storageClass: "storage-class",
  "sign-payload": "sign-payload",
  signPayload: "sign-payload",
  "require-content-md5": "require-content-md5",
  requireContentMD5: "require-content-md5",
};

const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
const URL_HINT = "e.g. s3://my-bucket/db or s3://my-bucket/db?endpoint=localhost:9000";

/** Parses `s3://BUCKET[/PATH][?query]` (and the provider host forms) into a spec. */
export function parseS3Url(text: string): S3Spec {
  return s3SpecFromOptions({ url: text }, `replica URL "${redactUrl(text)}"`);
}

/** Builds a spec from YAML replica keys; `url` may supply bucket, path and query options. */
export function s3SpecFromOptions(options: Record<string, unknown>, where: string): S3Spec {
  for (const key of Object.keys(options)) {
    if (!(S3_REPLICA_KEYS as readonly string[]).includes(key)) {
      const hint = key.startsWith("sse-")
        ? "server-side encryption keys are not supported yet; use bucket default encryption"
        : `S3 replica keys: ${S3_REPLICA_KEYS.join(", ")}`;
      throw new UsageError(`Unknown S3 replica key "${key}" in ${where}`, { hint });
    }
  }
  if (options.type !== undefined && options.type !== "s3") {
    throw new UsageError(`Replica type "${String(options.type)}" in ${where} is not s3`);
  }
  const get = (key: string) => options[key] ?? undefined;
  let host: HostParts = { bucket: "", forcePathStyle: false };
  let explicit: Record<string, unknown> = {};
  const url = optionalString(get("url"), "url", where);
  if (url !== undefined) {
    if (get("bucket") !== undefined || get("path") !== undefined) {
      throw new UsageError(`Cannot combine url with bucket or path in ${where}`, {
        hint: "give either url, or bucket and path",
      });
    }
    const parsed = splitS3Url(url, where);
    host = parsed.host;
    explicit = { path: parsed.path, ...parsed.query };
  }
  // YAML fields win over the URL's query, as in Litestream.
  for (const key of S3_REPLICA_KEYS) if (key !== "url" && get(key) !== undefined) explicit[key] = get(key);

  const bucket = optionalString(explicit.bucket, "bucket", where) ?? host.bucket;
  if (bucket === "") throw new UsageError(`No bucket in ${where}`, { hint: URL_HINT });
  if (/\s/.test(bucket)) throw new UsageError(`Invalid bucket name "${bucket}" in ${where}`);

  const endpointGiven = optionalString(explicit.endpoint, "endpoint", where);
  const endpoint = endpointGiven !== undefined ? ensureEndpointScheme(endpointGiven, where) : host.endpoint;
  const provider = endpoint ? detectProvider(new URL(endpoint).hostname) : undefined;
  const region = optionalString(explicit.region, "region", where) ?? host.region ??
    (endpoint ? "us-east-1" : undefined);

  const spec: S3Spec = {
    type: "s3",
    bucket,
    path: cleanPath(optionalString(explicit.path, "path", where) ?? "", where),
    forcePathStyle: optionalBool(explicit["force-path-style"], "force-path-style", where) ??
      (endpointGiven !== undefined || host.forcePathStyle || provider?.pathStyle === true),
    skipVerify: optionalBool(explicit["skip-verify"], "skip-verify", where) ?? false,
    signPayload: optionalBool(explicit["sign-payload"], "sign-payload", where) ?? true,
    requireContentMd5: optionalBool(explicit["require-content-md5"], "require-content-md5", where) ?? true,
  };
  if (region !== undefined) spec.region = region;
  if (endpoint !== undefined) spec.endpoint = endpoint;
  if (provider) spec.provider = provider.name;
  const accessKeyId = optionalString(explicit["access-key-id"], "access-key-id", where);
  const secretAccessKey = optionalString(explicit["secret-access-key"], "secret-access-key", where);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new UsageError(`S3 credentials in ${where} need both access-key-id and secret-access-key`);
  }
  if (accessKeyId !== undefined) spec.accessKeyId = accessKeyId;
  if (secretAccessKey !== undefined) spec.secretAccessKey = secretAccessKey;
  const partSize = optionalPartSize(explicit["part-size"], where);
  if (partSize !== undefined) spec.partSize = partSize;
  const concurrency = optionalPositiveInt(explicit.concurrency, "concurrency", where) ??
    provider?.concurrency;
  if (concurrency !== undefined) spec.concurrency = concurrency;
  const storageClass = optionalString(explicit["storage-class"], "storage-class", where);
  if (storageClass !== undefined) spec.storageClass = storageClass;
  return spec;
}

interface HostParts {
  bucket: string;
  region?: string;
  endpoint?: string;
  forcePathStyle: boolean;
}

function splitS3Url(
  text: string,
  where: string,
): { host: HostParts; path: string; query: Record<string, string> } {
  const m = /^s3:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`Not an s3:// URL: ${where}`, { hint: URL_HINT });
  let [, hostText = "", path = "", queryText] = m;
  if (hostText.includes("@")) {
    throw new UsageError(`Credentials cannot go in ${where}`, {
      hint:
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or access-key-id/secret-access-key in the config",
    });
  }
  // Access point ARNs contain "/" (…:accesspoint/NAME): the bucket is the ARN through NAME.
  const arn = /^(arn:[^:/]+:s3:([^:/]*):[^:/]*:accesspoint)(\/[^/?#]+)?/i.exec(hostText + path);
  let host: HostParts;
  if (arn) {
    if (!arn[3]) throw new UsageError(`Access point ARN in ${where} has no name`, { hint: URL_HINT });
    host = { bucket: arn[1]! + arn[3], forcePathStyle: false };
    if (arn[2]) host.region = arn[2];
    path = (hostText + path).slice(arn[0].length);
  } else {
    host = parseS3Host(decodeURIComponent(hostText), where);
  }
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(queryText ?? "")) {
    const key = QUERY_KEYS[name];
    if (!key) {
      throw new UsageError(`Unknown query parameter "${name}" in ${where}`, {
        hint: "supported: endpoint, region, forcePathStyle, skipVerify, partSize, concurrency, " +
          "storageClass, signPayload, requireContentMD5 (camelCase or kebab-case)",
      });
    }
    if (key in query) throw new UsageError(`Query parameter "${name}" is given twice in ${where}`);
    query[key] = value;
  }
  return { host, path: decodeURIComponent(path), query };
}

/** Bucket, region, endpoint and path style from the URL's host (Litestream's ParseHost). */
export function parseS3Host(host: string, where = `host "${host}"`): HostParts {
  const lower = host.toLowerCase();
  let m: RegExpExecArray | null;
  // MinIO style BUCKET.HOST:PORT (and BUCKET.localhost): plain http, path style.
  if ((lower.includes(":") && !/\.com(:\d+)?$/.test(lower)) || /^[^.]+\.localhost$/.test(lower)) {
    const dot = host.indexOf(".");
    if (dot <= 0) {
      throw new UsageError(`No bucket in ${where}: the host "${host}" needs the form BUCKET.HOST:PORT`, {
        hint: "e.g. s3://my-bucket.localhost:9000/db, or s3://my-bucket/db?endpoint=minio:9000",
      });
    }
    return {
      bucket: host.slice(0, dot),
      region: "us-east-1",
      endpoint: `http://${host.slice(dot + 1)}`,
      forcePathStyle: true,
    };
  }
  if ((m = /^(.+)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$/.exec(lower))) {
    const parts: HostParts = { bucket: host.slice(0, m[1]!.length), forcePathStyle: false };
    if (m[2] && m[2] !== "dualstack") parts.region = m[2];
    return parts;
  }
  const providers: [RegExp, (region: string) => string, boolean][] = [
    [/^(.+)\.([^.]+)\.digitaloceanspaces\.com$/, (r) => `https://${r}.digitaloceanspaces.com`, false],
    [/^(.+)\.s3\.([^.]+)\.backblazeb2\.com$/, (r) => `https://s3.${r}.backblazeb2.com`, true],
    [/^(.+)\.s3\.filebase\.com$()/, () => "https://s3.filebase.com", true],
    [/^(.+)\.s3\.([^.]+)\.scw\.cloud$/, (r) => `https://s3.${r}.scw.cloud`, false],
    [/^(.+)\.([^.]+)\.linodeobjects\.com$/, (r) => `https://${r}.linodeobjects.com`, false],
  ];
  for (const [pattern, endpoint, forcePathStyle] of providers) {
    if ((m = pattern.exec(lower))) {
      const parts: HostParts = {
        bucket: host.slice(0, m[1]!.length),
        endpoint: endpoint(m[2]!),
        forcePathStyle,
      };
      if (m[2]) parts.region = m[2];
      return parts;
    }
  }
  return { bucket: host, forcePathStyle: false };
}

/** Adds `http://` for loopback and private hosts, `https://` for the rest; keeps an explicit scheme. */
export function ensureEndpointScheme(endpoint: string, where = "endpoint"): string {
  const text = endpoint.trim();
  if (text === "") throw new UsageError(`Empty endpoint in ${where}`, { hint: URL_HINT });
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `http://${text}`);
  } catch {
    throw new UsageError(`Invalid endpoint "${text}" in ${where}`, { hint: "e.g. http://127.0.0.1:9000" });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`Endpoint "${text}" in ${where} must be http:// or https://`);
  }
  if (url.username || url.password) throw new UsageError(`Credentials cannot go in the endpoint (${where})`);
  if (hasScheme) return text.replace(/\/+$/, "");
  return `${isLocalHost(url.hostname) ? "http" : "https"}://${text.replace(/\/+$/, "")}`;
}

/** Loopback, private-network and `.local`/`.localhost` names: endpoints there usually speak plain http. */
export function isLocalHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1" || h.endsWith(".localhost") || h.endsWith(".local")) return true;
  const ip = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(h);
  if (!ip) return false;
  const [a, b] = [Number(ip[1]), Number(ip[2])];
  return a === 127 || a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31);
}

interface Provider {
  name: string;
  pathStyle?: boolean;
  concurrency?: number;
}

/** Provider quirks by endpoint host, as Litestream applies them when the user set nothing. */
export function detectProvider(hostname: string): Provider | undefined {
  const h = hostname.toLowerCase();
  if (h === "fly.storage.tigris.dev" || h === "t3.storage.dev") return { name: "tigris" };
  if (h.endsWith(".r2.cloudflarestorage.com")) return { name: "r2", concurrency: 2 };
  if (h.endsWith(".backblazeb2.com")) return { name: "b2", pathStyle: true };
  if (h === "s3.filebase.com") return { name: "filebase", pathStyle: true };
  if (h.endsWith(".supabase.co")) return { name: "supabase", pathStyle: true };
  if (h.endsWith(".digitaloceanspaces.com")) return { name: "digitalocean" };
  if (h.endsWith(".scw.cloud")) return { name: "scaleway" };
  if (h.endsWith(".your-objectstorage.com")) return { name: "hetzner" };
  return undefined;
}

/** The URL with userinfo and secret-looking query values replaced, for messages. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z0-9+.-]+:\/\/)[^/@?#]*@/i, "$1REDACTED@")
    .replace(/([?&][^=&#]*(?:secret|key|token|password|sig)[^=&#]*=)[^&#]*/gi, "$1REDACTED");
}

function cleanPath(path: string, where: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new UsageError(`Path "${path}" in ${where} may not contain ".."`);
  return parts.join("/");
}

function optionalString(value: unknown, key: string, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" && typeof value !== "number") {
    throw new UsageError(`Invalid ${key} in ${where}: expected a string`);
  }
  const text = String(value).trim();
  if (text === "" && key !== "path") {
    throw new UsageError(`Empty ${key} in ${where}`, { hint: `give a value or leave ${key} out` });
  }
  return text;
}

const TRUE = ["true", "1", "t", "yes"];
const FALSE = ["false", "0", "f", "no"];

function optionalBool(value: unknown, key: string, where: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  const text = String(value).trim().toLowerCase();
  if (TRUE.includes(text)) return true;
  if (FALSE.includes(text)) return false;
  throw new UsageError(`Invalid ${key} "${String(value)}" in ${where}: expected true or false`, {
    hint: "use true or false (also 1/0, t/f, yes/no)",
  });
}

function optionalPositiveInt(value: unknown, key: string, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`Invalid ${key} "${text}" in ${where}: expected a positive integer`);
  }
  return n;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** Sizes as go-humanize reads them: `5MiB`, `10MB` (10^6), `8388608`. */
function optionalPartSize(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < MIN_PART_SIZE || bytes > MAX_PART_SIZE) {
    throw new UsageError(`Invalid part-size "${text}" in ${where}: expected 5MiB to 5GiB`, {
      hint: "S3 parts are 5 MiB at least; e.g. part-size=16MiB",
    });
  }
  return bytes;
}
