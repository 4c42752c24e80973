/**
 * Azure Blob Storage replica specs: `abs://[ACCOUNT@]CONTAINER[/PATH][?endpoint=URL]` and the YAML replica
 * keys. Both go through absSpecFromOptions, so a URL and a config file are validated the same way.
 */
import { posix } from "node:path";
import { UsageError } from "../util/errors.ts";

export type AbsSpec = {
  type: "abs";
  /** Storage account; may also come from the environment or the endpoint. */
  accountName?: string;
  container: string;
  /** Key prefix inside the container, without leading or trailing slashes ("" for the root). */
  path: string;
  /** Blob service URL, e.g. Azurite's `http://127.0.0.1:10000/devstoreaccount1`; default from the account. */
  endpoint?: string;
  accountKey?: string;
  sasToken?: string;
  /** Parallel block uploads per file (Stash's `maxConnections`). @default 5 */
  maxConnections: number;
};

export const DEFAULT_MAX_CONNECTIONS = 5;
const MAX_CONNECTIONS_LIMIT = 64;

/** Azure's rule: 3-63 of a-z, 0-9 and single hyphens, starting and ending with a letter or digit. */
const CONTAINER_NAME = /^(?:\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;
const ACCOUNT_NAME = /^[a-z0-9]{1,64}$/;
const URL_QUERY_KEYS = new Map([
  ["endpoint", "endpoint"],
  ["max-connections", "max-connections"],
  ["maxConnections", "max-connections"],
]);
const URL_HINT = "write it as abs://ACCOUNT@CONTAINER/PATH (add ?endpoint=URL for Azurite)";

/** Parses an `abs://` replica URL. Never echoes secrets: a key or SAS token in the URL is refused unseen. */
export function parseAbsUrl(text: string): AbsSpec {
  const m = /^abs:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(text);
  if (!m) throw new UsageError("Replica URL is not an abs:// URL", { hint: URL_HINT });
  const [, authority = "", rawPath = "", query = ""] = m;
  const at = authority.lastIndexOf("@");
  const userinfo = at >= 0 ? authority.slice(0, at) : "";
  const container = decode(authority.slice(at + 1));
  const shown = `abs://${at >= 0 ? `${userinfo.split(":")[0]}@` : ""}${container}${rawPath}`;
  if (userinfo.includes(":")) {
    throw new UsageError(`Replica URL "${shown}" must not hold the account key`, {
      hint: "pass the key in LITESTREAM_AZURE_ACCOUNT_KEY (or account-key in the config file)",
    });
  }
  const options: Record<string, unknown> = { bucket: container, path: decode(rawPath) };
  if (userinfo !== "") options["account-name"] = decode(userinfo);
  for (const [key, value] of new URLSearchParams(query)) {
    const name = URL_QUERY_KEYS.get(key);
    if (!name) {
      throw new UsageError(`Replica URL "${shown}" has an unknown query parameter "${key}"`, {
        hint: "supported: endpoint, max-connections; put credentials in the environment or the config file",
      });
    }
    options[name] = value;
  }
  return absSpecFromOptions(options, `replica URL "${shown}"`);
}

/**
 * Validates Azure replica options as YAML gives them (`account-name`, `account-key`, `sas-token`, `bucket`,
 * `path`, `endpoint`, `max-connections`, or `url`). Empty strings count as unset (an unset `$VAR`).
 * Other keys are left to the caller. `where` names the source in messages, e.g. `replica at line 12`.
 */
export function absSpecFromOptions(options: Record<string, unknown>, where: string): AbsSpec {
  const url = optionalString(options, "url", where);
  if (url !== undefined) return absSpecFromUrlOption(url, options, where);
  const container = optionalString(options, "bucket", where);
  if (container === undefined) {
    throw new UsageError(`The ${where} names no container`, {
      hint: "write abs://ACCOUNT@CONTAINER/PATH, or set bucket: CONTAINER in the config",
    });
  }
  if (!CONTAINER_NAME.test(container)) {
    throw new UsageError(`The ${where} has an invalid container name "${container}"`, {
      hint: "container names are 3-63 lowercase letters, digits and single hyphens",
    });
  }
  const spec: AbsSpec = {
    type: "abs",
    container,
    path: cleanPath(optionalString(options, "path", where) ?? ""),
    maxConnections: parseMaxConnections(options["max-connections"], where),
  };
  const accountName = optionalString(options, "account-name", where);
  if (accountName !== undefined) {
    if (!ACCOUNT_NAME.test(accountName)) {
      throw new UsageError(`The ${where} has an invalid account name "${accountName}"`, {
        hint: "storage account names are lowercase letters and digits",
      });
    }
    spec.accountName = accountName;
  }
  const endpoint = optionalString(options, "endpoint", where);
  if (endpoint !== undefined) spec.endpoint = normalizeEndpoint(endpoint, where);
  const accountKey = optionalString(options, "account-key", where);
  if (accountKey !== undefined) spec.accountKey = accountKey;
  const sasToken = optionalString(options, "sas-token", where)?.replace(/^\?/, "");
  if (sasToken) spec.sasToken = sasToken;
  return spec;
}

/** `url:` in a config: explicit keys win over the URL's parts, as in Litestream; path/bucket may not mix. */
function absSpecFromUrlOption(url: string, options: Record<string, unknown>, where: string): AbsSpec {
  for (const key of ["bucket", "path"]) {
    if (optionalString(options, key, where) !== undefined) {
      throw new UsageError(`The ${where} sets both url and ${key}`, { hint: "use one or the other" });
    }
  }
  const fromUrl = parseAbsUrl(url);
  const rest = { ...options };
  delete rest.url;
  return absSpecFromOptions({
    "account-name": fromUrl.accountName,
    endpoint: fromUrl.endpoint,
    "max-connections": fromUrl.maxConnections,
    ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== "")),
    bucket: fromUrl.container,
    path: fromUrl.path,
  }, where);
}

function optionalString(options: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = options[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") {
    throw new UsageError(`The ${where} has a ${typeof value} for ${key}, expected a string`, {
      hint: `quote the value of ${key}`,
    });
  }
  return value;
}

function parseMaxConnections(value: unknown, where: string): number {
  if (value === undefined || value === null || value === "") return DEFAULT_MAX_CONNECTIONS;
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS_LIMIT) {
    throw new UsageError(`The ${where} has an invalid max-connections "${String(value)}"`, {
      hint: `use a whole number from 1 to ${MAX_CONNECTIONS_LIMIT} (default ${DEFAULT_MAX_CONNECTIONS})`,
    });
  }
  return n;
}

/** Like Go's path.Clean, without the leading slash: "/a//b/" → "a/b", "/../x" → "x", "/" → "". */
function cleanPath(path: string): string {
  return posix.normalize(`/${path}`).replace(/^\/+|\/+$/g, "");
}

/**
 * An endpoint without a scheme gets http:// for loopback and private hosts, https:// otherwise (as for
 * S3). A query is refused: a SAS token belongs in sas-token, where it is never printed.
 */
function normalizeEndpoint(text: string, where: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
    ? text
    : `${isLocalHost(hostOf(text)) ? "http" : "https"}://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`The ${where} has an endpoint that is not a URL`, {
      hint: "e.g. http://127.0.0.1:10000/devstoreaccount1",
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`The ${where} has an endpoint with scheme "${url.protocol}"`, {
      hint: "use http:// or https://",
    });
  }
  if (url.search !== "" || url.username !== "" || url.password !== "") {
    throw new UsageError(`The ${where} has an endpoint with a query or credentials`, {
      hint: "give a SAS token as sas-token or LITESTREAM_AZURE_SAS_TOKEN, not in the endpoint",
    });
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function hostOf(text: string): string {
  return text.startsWith("[") ? text.slice(0, text.indexOf("]") + 1) : text.split(/[/:]/)[0] ?? "";
}

function isLocalHost(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") ||
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host) || host === "[::1]";
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError("Replica URL has a bad %-escape", { hint: URL_HINT });
  }
}
