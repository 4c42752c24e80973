/** One `dbs:` item of a config → a DatabaseConfig: one file (`path`) or a directory of them (`dir` + `pattern`). */
import { parseSize } from "../util/duration.ts";
import { expandPath } from "./expand_path.ts";
import { compileGlob } from "./glob.ts";
import { nameReplicas, readReplica, type ReplicaConfig, type ReplicaContext } from "./replica_config.ts";
import { configError, type ConfigMap, type ConfigValue } from "./yaml_source.ts";

export interface DatabaseConfig {
  /** The database file, absolute. Exactly one of `path` and `dir` is set. */
  path?: string;
  /** Directory mode: every SQLite file in `dir` whose base name matches `pattern`. */
  dir?: string;
  pattern?: string;
  /** Directory mode: also search subdirectories. @default false */
  recursive: boolean;
  /** Directory mode: pick up databases created later. @default false */
  watch: boolean;
  /** Local state directory (directory mode: the base under which each database gets its own). */
  metaPath?: string;
  /** @default 1s */
  monitorIntervalMs: number;
  /** Time-based PASSIVE checkpoint; 0 disables. @default 1m */
  checkpointIntervalMs: number;
  /** @default 1s */
  busyTimeoutMs: number;
  /** @default 1000 */
  minCheckpointPageCount: number;
  /** `truncate-page-n`. @default 121359 */
  truncatePageCount: number;
  /** WAL bytes read per sync; 0 = no limit. @default 64 MiB */
  maxSyncWalBytes: number;
  /** Restore from the first replica that has data when the database file is missing. @default false */
  restoreIfDbNotExists: boolean;
  replicas: ReplicaConfig[];
}

const DB_KEYS = [
  "path",
  "dir",
  "pattern",
  "recursive",
  "watch",
  "meta-path",
  "monitor-interval",
  "checkpoint-interval",
  "busy-timeout",
  "min-checkpoint-page-count",
  "truncate-page-n",
  "max-sync-wal-bytes",
  "restore-if-db-not-exists",
  "replica",
  "replicas",
  "snapshot",
] as const;

const UNSUPPORTED_DB_KEYS: Readonly<Record<string, string>> = {
  "meta-dir": "use meta-path: in directory mode it is the base of each database's state directory",
};

const DEFAULT_TRUNCATE_PAGE_COUNT = 121359;

export interface DatabaseEntry {
  db: DatabaseConfig;
  /** The database's own `snapshot:` mapping, which applies to all databases (lifted to the top level). */
  snapshot?: ConfigMap;
  line: number;
}

/** Reads and validates one database entry. */
export function readDatabase(value: ConfigValue, context: ReplicaContext): DatabaseEntry {
  const map = value.map();
  map.checkKeys(DB_KEYS, UNSUPPORTED_DB_KEYS);
  const where = map.where;
  const path = map.get("path");
  const dir = map.get("dir");
  if (path && dir) throw configError(map.lineOf("dir"), `${where} has both path and dir`, "use one of them");
  if (!path && !dir) {
    throw configError(map.line, `${where} needs path (one database) or dir and pattern (a directory)`);
  }
  const absolute = (v: ConfigValue) => {
    const resolved = expandPath(v.string(), context.home);
    if (resolved === undefined) throw configError(v.line, `${v.where} starts with ~ but HOME is not set`);
    return resolved;
  };

  const db: DatabaseConfig = {
    recursive: flag(map, "recursive"),
    watch: flag(map, "watch"),
    monitorIntervalMs: duration(map, "monitor-interval", 1000, { positive: true }),
    checkpointIntervalMs: duration(map, "checkpoint-interval", 60_000),
    busyTimeoutMs: duration(map, "busy-timeout", 1000),
    minCheckpointPageCount: count(map, "min-checkpoint-page-count", 1000, { positive: true }),
    // 0 means the default, as in Litestream.
    truncatePageCount: count(map, "truncate-page-n", DEFAULT_TRUNCATE_PAGE_COUNT) ||
      DEFAULT_TRUNCATE_PAGE_COUNT,
    maxSyncWalBytes: byteCount(map, "max-sync-wal-bytes", 64 * 1024 * 1024),
    restoreIfDbNotExists: flag(map, "restore-if-db-not-exists"),
    replicas: readReplicas(map, context),
  };
  if (path) db.path = absolute(path);
  if (dir) {
    db.dir = absolute(dir);
    const pattern = map.get("pattern");
    if (!pattern) {
      throw configError(map.lineOf("dir"), `${where} has dir but no pattern`, 'e.g. pattern: "*.db"');
    }
    db.pattern = pattern.string();
    try {
      compileGlob(db.pattern);
    } catch {
      throw configError(
        pattern.line,
        `${pattern.where} is not a valid pattern`,
        'use *, ? and [a-z], e.g. "*.db"',
      );
    }
  } else {
    for (const key of ["pattern", "recursive", "watch"]) {
      if (map.get(key)) throw configError(map.lineOf(key), `${where}.${key} works only with dir`);
    }
  }
  const metaPath = map.get("meta-path");
  if (metaPath) db.metaPath = absolute(metaPath);
  const snapshot = map.get("snapshot")?.map();
  return snapshot ? { db, snapshot, line: map.line } : { db, line: map.line };
}

function readReplicas(map: ConfigMap, context: ReplicaContext): ReplicaConfig[] {
  const single = map.get("replica");
  const list = map.get("replicas");
  if (single && list) {
    throw configError(
      map.lineOf("replicas"),
      `${map.where} has both replica and replicas`,
      "use one of them",
    );
  }
  const values = single ? [single] : list ? list.list() : [];
  if (values.length === 0) {
    throw configError(
      list ? list.line : map.line,
      `${map.where} has no replica`,
      "add replica: with url: (s3://, abs://, file://) or type: and its fields",
    );
  }
  const replicas = values.map((v) => readReplica(v, context));
  nameReplicas(replicas, map.where, map.line);
  return replicas;
}

function flag(map: ConfigMap, key: string): boolean {
  return map.get(key)?.bool() ?? false;
}

function duration(map: ConfigMap, key: string, fallback: number, rule: { positive?: boolean } = {}): number {
  const value = map.get(key);
  if (!value) return fallback;
  const ms = value.duration();
  if (rule.positive && ms <= 0) throw configError(value.line, `${value.where} must be greater than 0`);
  return ms;
}

function count(map: ConfigMap, key: string, fallback: number, rule: { positive?: boolean } = {}): number {
  const value = map.get(key);
  if (!value) return fallback;
  const n = value.int();
  if (n < (rule.positive ? 1 : 0)) {
    throw configError(value.line, `${value.where} must be ${rule.positive ? "greater than 0" : "0 or more"}`);
  }
  return n;
}

/** A whole number of bytes; walship also takes a size such as 64MiB. */
function byteCount(map: ConfigMap, key: string, fallback: number): number {
  const value = map.get(key);
  if (!value) return fallback;
  const plain = value.plain();
  if (typeof plain === "number") return count(map, key, fallback);
  try {
    if (typeof plain === "string") return parseSize(plain, value.where);
  } catch {
    // Reported below with the line.
  }
  throw configError(value.line, `${value.where} must be a number of bytes or a size such as 64MiB`);
}
