/**
 * One `replica:` (or `replicas:` item) of a config → a ReplicaConfig. Keys are checked against the
 * replica's type, global replica keys fill what the replica leaves unset, and the S3 and Azure option
 * readers build the spec, so a URL and its YAML form are validated alike.
 */
import { UsageError } from "../util/errors.ts";
import { absSpecFromOptions } from "./abs_url.ts";
import {
  type AgeKeys,
  checkAgeKeys,
  checkIdentity,
  checkRecipient,
  parseIdentities,
  parseRecipients,
  readKeyFileSync,
} from "./age_keys.ts";
import { expandPath } from "./expand_path.ts";
import { isReplicaUrl, parseReplicaUrl, type ReplicaSpec } from "./replica_url.ts";
import { S3_REPLICA_KEYS, s3SpecFromOptions } from "./s3_url.ts";
import { configError, type ConfigMap, type ConfigValue } from "./yaml_source.ts";

export interface ReplicaConfig {
  /** `name:`, else the type ("s3"), numbered when a database has several replicas of one type. */
  name: string;
  spec: ReplicaSpec;
  /** How often new files are shipped. @default 1s */
  syncIntervalMs: number;
}

type ReplicaType = ReplicaSpec["type"];

const COMMON_KEYS = ["type", "url", "name", "sync-interval", "age"] as const;
const AGE_KEYS = ["identities", "recipients", "identity-file", "recipients-file", "passphrase"];
const TYPE_KEYS: Record<ReplicaType, readonly string[]> = {
  file: ["path"],
  s3: S3_REPLICA_KEYS.filter((k) => k !== "type" && k !== "url"),
  abs: ["account-name", "account-key", "sas-token", "bucket", "path", "endpoint", "max-connections"],
};

/** Keys that may stand at the top level as defaults for every replica that has them (Litestream §2.5). */
export const GLOBAL_REPLICA_KEYS: readonly string[] = [
  ...new Set(["sync-interval", ...TYPE_KEYS.s3, ...TYPE_KEYS.abs].filter((k) => k !== "path")),
];

const SSE_HINT = "server-side encryption keys are not supported yet; use the bucket's default encryption";
const NOT_IMPLEMENTED = "a Litestream option walship does not implement; remove it";

/** Litestream keys walship refuses, each with what to do instead. */
export const UNSUPPORTED_REPLICA_KEYS: Readonly<Record<string, string>> = {
  retention: "a Litestream v0.3 replica key; set snapshot.retention at the top level",
  "snapshot-interval": "a Litestream v0.3 replica key; set snapshot.interval at the top level",
  "retention-check-interval":
    "a Litestream v0.3 replica key; set l0-retention-check-interval at the top level",
  "validation-interval": NOT_IMPLEMENTED,
  "max-sync-ltx-files": NOT_IMPLEMENTED,
  "auto-recover": NOT_IMPLEMENTED,
  // Allowed on a replica (COMMON_KEYS); this hint is for the places it is not.
  age: "age: goes on each replica (its replica: or replicas: item)",
  "sse-customer-algorithm": SSE_HINT,
  "sse-customer-key": SSE_HINT,
  "sse-customer-key-path": SSE_HINT,
  "sse-kms-key-id": SSE_HINT,
};

type Kind = "text" | "bool" | "int" | "size" | "duration";
const KINDS: Record<string, Kind> = {
  "force-path-style": "bool",
  "skip-verify": "bool",
  "sign-payload": "bool",
  "require-content-md5": "bool",
  concurrency: "int",
  "max-connections": "int",
  "part-size": "size",
  "sync-interval": "duration",
};

/** Reads a value of a replica key as its kind; a type error names its key and line. */
export function replicaOption(key: string, value: ConfigValue): string | number | boolean {
  switch (KINDS[key] ?? "text") {
    case "bool":
      return value.bool();
    case "int":
      return value.int();
    case "duration":
      return value.duration();
    case "size": {
      const plain = value.plain();
      if (typeof plain === "string" || typeof plain === "number") return plain;
      throw configError(value.line, `${value.where} must be a size such as 5MiB or 16MB`);
    }
    default:
      return value.string();
  }
}

export interface ReplicaContext {
  /** Top-level replica keys, already read. */
  globals: ConfigMap;
  home: string | undefined;
}

/** Builds one replica from its mapping; `name` is left empty when not given (see nameReplicas). */
export function readReplica(value: ConfigValue, context: ReplicaContext): ReplicaConfig {
  const map = value.map();
  const url = map.get("url")?.string().trim();
  const type = replicaType(map, url);
  map.checkKeys([...COMMON_KEYS, ...TYPE_KEYS[type]], UNSUPPORTED_REPLICA_KEYS);

  const own = map.keys().filter((k) => map.get(k) !== undefined);
  if (url !== undefined) {
    for (const key of ["bucket", "path"]) {
      if (own.includes(key)) {
        throw configError(
          map.lineOf(key),
          `${map.where} has both url and ${key}`,
          "give either url, or the fields",
        );
      }
    }
  }
  // Global defaults fill unset keys. A global bucket does not apply to a replica with a url, whose URL
  // names its own bucket (Litestream refuses that combination instead).
  const options = new Map<string, ConfigValue>();
  for (const key of ["sync-interval", ...TYPE_KEYS[type]]) {
    const global = context.globals.get(key);
    if (global && !(url !== undefined && key === "bucket")) options.set(key, global);
  }
  for (const key of own) {
    if (key !== "type" && key !== "name" && key !== "age") options.set(key, map.get(key)!);
  }

  const syncInterval = options.get("sync-interval");
  const syncIntervalMs = syncInterval ? syncInterval.duration() : 1000;
  if (syncIntervalMs <= 0) {
    throw configError(syncInterval!.line, `${syncInterval!.where} must be greater than 0`);
  }
  options.delete("sync-interval");

  const spec = buildSpec(type, options, map, context);
  const age = map.get("age");
  if (age) spec.age = readAge(age, context.home);
  return { name: map.get("name")?.string().trim() ?? "", spec, syncIntervalMs };
}

/** `age:` of a replica: keys inline or in files (read now, so a bad file names its config line). */
function readAge(value: ConfigValue, home: string | undefined): AgeKeys {
  const map = value.map();
  map.checkKeys(AGE_KEYS);
  const keys: AgeKeys = { recipients: [], identities: [] };
  for (const item of map.get("identities")?.list() ?? []) {
    keys.identities.push(
      atLine(item.line, () => checked(item.string(), (t) => checkIdentity(t, item.where))),
    );
  }
  for (const item of map.get("recipients")?.list() ?? []) {
    keys.recipients.push(
      atLine(item.line, () => checked(item.string(), (t) => checkRecipient(t, item.where))),
    );
  }
  const fromFile = (key: string, what: string, parse: (text: string, where: string) => string[]) => {
    const file = map.get(key);
    if (!file) return [];
    return atLine(file.line, () => {
      const path = expandPath(file.string().trim(), home) ?? file.string().trim();
      return parse(readKeyFileSync(path, what), `age ${what} "${path}"`);
    });
  };
  keys.identities.push(...fromFile("identity-file", "identity file", parseIdentities));
  keys.recipients.push(...fromFile("recipients-file", "recipients file", parseRecipients));
  const passphrase = map.get("passphrase");
  if (passphrase) keys.passphrase = passphrase.string();
  atLine(value.line, () => checkAgeKeys(keys, map.where));
  return keys;
}

function checked(text: string, check: (text: string) => void): string {
  const trimmed = text.trim();
  check(trimmed);
  return trimmed;
}

/** Runs `read`, putting `config line N:` before the message of a UsageError it throws. */
function atLine<T>(line: number, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof UsageError) || err.message.startsWith("config line ")) throw err;
    throw configError(line, err.message, err.hint);
  }
}

function replicaType(map: ConfigMap, url: string | undefined): ReplicaType {
  const typeValue = map.get("type");
  const given = typeValue?.string().trim().toLowerCase();
  const scheme = url === undefined ? undefined : /^([a-z0-9+.-]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (url !== undefined && scheme === undefined) {
    throw configError(
      map.lineOf("url"),
      `${map.where}.url has no scheme`,
      "e.g. s3://bucket/path or file:///path",
    );
  }
  if (given !== undefined && scheme !== undefined && given !== scheme) {
    throw configError(typeValue!.line, `${map.where} has type "${given}" but its url is ${scheme}://`);
  }
  const type = scheme ?? given ?? "file";
  if (type in TYPE_KEYS) return type as ReplicaType;
  throw configError(
    scheme ? map.lineOf("url") : typeValue!.line,
    `replica type "${type}" in ${map.where} is not supported by walship`,
    "supported: file, s3, abs",
  );
}

function buildSpec(
  type: ReplicaType,
  options: Map<string, ConfigValue>,
  map: ConfigMap,
  context: ReplicaContext,
): ReplicaSpec {
  const plain: Record<string, unknown> = {};
  for (const [key, value] of options) plain[key] = replicaOption(key, value);
  try {
    if (type === "s3") return s3SpecFromOptions(plain, map.where);
    if (type === "abs") return absSpecFromOptions(plain, map.where);
    if (typeof plain.url === "string") return parseReplicaUrl(plain.url);
  } catch (err) {
    throw locate(err, map, options);
  }
  const path = options.get("path");
  if (!path) {
    throw configError(
      map.line,
      `${map.where} names no destination`,
      "give url: (s3://, abs://, file://) or path:",
    );
  }
  const text = path.string();
  if (isReplicaUrl(text)) {
    throw configError(path.line, `${path.where} is a URL`, "write url: instead of path:");
  }
  const resolved = expandPath(text, context.home);
  if (resolved === undefined) throw configError(path.line, `${path.where} starts with ~ but HOME is not set`);
  return { type: "file", path: resolved };
}

/** Puts the line of the key an option reader's message names (else the replica's line) on its error. */
function locate(err: unknown, map: ConfigMap, options: Map<string, ConfigValue>): unknown {
  if (!(err instanceof UsageError)) return err;
  let line = map.line;
  let first = Infinity;
  for (const [key, value] of options) {
    const spelled = key.replaceAll("-", "[- ]"); // "account-name" or "account name"
    const at = new RegExp(`(?<![\\w-])${spelled}(?![\\w-])`, "i").exec(err.message)?.index ?? Infinity;
    if (at < first) [first, line] = [at, value.line];
  }
  const message = /^[A-Z][a-z]/.test(err.message)
    ? err.message[0]!.toLowerCase() + err.message.slice(1)
    : err.message;
  return new UsageError(`config line ${line}: ${message}`, {
    ...(err.hint ? { hint: err.hint } : {}),
    cause: err,
  });
}

/** Fills empty names with the type, numbered ("s3-1", "s3-2") when a type repeats; rejects duplicates. */
export function nameReplicas(replicas: ReplicaConfig[], where: string, line: number): void {
  const count = (type: string) => replicas.filter((r) => r.spec.type === type).length;
  const seen = new Map<string, number>();
  for (const r of replicas) {
    const n = (seen.get(r.spec.type) ?? 0) + 1;
    seen.set(r.spec.type, n);
    if (r.name === "") r.name = count(r.spec.type) > 1 ? `${r.spec.type}-${n}` : r.spec.type;
  }
  const names = replicas.map((r) => r.name);
  const dup = names.find((name, i) => names.indexOf(name) !== i);
  if (dup !== undefined) {
    throw configError(line, `${where} has two replicas named "${dup}"`, "give each replica its own name:");
  }
}
