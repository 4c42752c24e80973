/**
 * The YAML config file (Litestream v0.5's format, plus walship's `replicas:` lists and keep rules):
 * loading, `$VAR` expansion and validation into a WalshipConfig. Every error names the line and the key.
 */
import type { MaintenanceSchedule } from "../engine/schedule.ts";
import { loadAge } from "./age_keys.ts";
import { UsageError } from "../util/errors.ts";
import { type LogLevel, parseLogLevel } from "../util/log.ts";
import { type DatabaseConfig, type DatabaseEntry, readDatabase } from "./database_config.ts";
import { expandEnv } from "./expand_env.ts";
import { expandPath } from "./expand_path.ts";
import { compileGlob } from "./glob.ts";
import { scrubError, secretsIn } from "./redact.ts";
import { GLOBAL_REPLICA_KEYS, replicaOption, UNSUPPORTED_REPLICA_KEYS } from "./replica_config.ts";
import type { ReplicaSpec } from "./replica_url.ts";
import { readSchedule } from "./schedule_config.ts";
import { configError, type ConfigMap, loadYaml, parseYaml } from "./yaml_source.ts";

export type { DatabaseConfig } from "./database_config.ts";
export type { ReplicaConfig } from "./replica_config.ts";
export { redactedConfig } from "./redact.ts";

export interface WalshipConfig {
  /** The file read, absolute. */
  path: string;
  dbs: DatabaseConfig[];
  /** Metrics listen address, e.g. ":9090". */
  addr?: string;
  logging: { level: LogLevel; type: "text" | "json"; stderr: boolean };
  schedule: MaintenanceSchedule;
  /** Command to run as a child (`exec:`). */
  exec?: string;
  /** @default 30s; 0 = one attempt */
  shutdownSyncTimeoutMs: number;
  /** @default 500ms */
  shutdownSyncIntervalMs: number;
}

export interface ParseConfigOptions {
  /** The file the text came from (kept in the result). */
  path: string;
  /** Expand `$VAR` and `${VAR}` in the whole text; false for `-no-expand-env`. @default true */
  expandEnv?: boolean;
  /** Variables for expansion and `~`. @default the process environment */
  env?: Record<string, string>;
}

export type LoadConfigOptions = Omit<ParseConfigOptions, "path">;

export const DEFAULT_CONFIG_PATH = "/etc/walship.yml";

const TOP_KEYS = [
  "dbs",
  "addr",
  "logging",
  "levels",
  "snapshot",
  "l0-retention",
  "l0-retention-check-interval",
  "retention",
  "exec",
  "shutdown-sync-timeout",
  "shutdown-sync-interval",
  ...GLOBAL_REPLICA_KEYS,
];

const NOT_IMPLEMENTED = "a Litestream option walship does not implement; remove it";
const UNSUPPORTED_TOP_KEYS: Readonly<Record<string, string>> = {
  ...UNSUPPORTED_REPLICA_KEYS,
  socket: "walship has no control socket; remove it",
  "mcp-addr": NOT_IMPLEMENTED,
  "heartbeat-url": NOT_IMPLEMENTED,
  "heartbeat-interval": NOT_IMPLEMENTED,
  validation: NOT_IMPLEMENTED,
  "verify-compaction": NOT_IMPLEMENTED,
};

/**
 * The config path when none is given: `$WALSHIP_CONFIG`, else `$LITESTREAM_CONFIG` (walship reads
 * Litestream's format, so a container set up for Litestream works unchanged), else /etc/walship.yml.
 */
export function defaultConfigPath(env: Record<string, string | undefined>): string {
  return env.WALSHIP_CONFIG || env.LITESTREAM_CONFIG || DEFAULT_CONFIG_PATH;
}

/** Reads and validates a config file (`path`, or the default path). */
export async function loadConfig(
  path: string | undefined,
  options: LoadConfigOptions = {},
): Promise<WalshipConfig> {
  const env = options.env ?? Deno.env.toObject();
  const file = expandPath(path ?? defaultConfigPath(env), env.HOME) ?? path ?? "";
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const hint = "pass -config PATH or set WALSHIP_CONFIG";
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`Config file "${file}" not found`, { hint });
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UsageError(`Config file "${file}" is a directory`, { hint });
    }
    throw new UsageError(`Cannot read config file "${file}": ${err instanceof Error ? err.message : err}`, {
      hint,
      cause: err,
    });
  }
  await loadYaml();
  // Only a file that mentions age can hold age keys (a key name never comes from a variable).
  if (/\bage\b/.test(text)) await loadAge();
  return parseConfig(text, { ...options, env, path: file });
}

/** Validates config text. Errors are UsageErrors `config line N: …` that never show a credential. */
export function parseConfig(text: string, options: ParseConfigOptions): WalshipConfig {
  const env = options.env ?? Deno.env.toObject();
  const expanded = options.expandEnv === false
    ? text
    : expandEnv(text, (name) => name === "PID" ? String(Deno.pid) : env[name]);
  try {
    return readConfig(parseYaml(expanded).map(), options.path, env.HOME);
  } catch (err) {
    throw scrubError(err, secretsIn(expanded));
  }
}

function readConfig(root: ConfigMap, path: string, home: string | undefined): WalshipConfig {
  root.checkKeys(TOP_KEYS, UNSUPPORTED_TOP_KEYS);
  // Global replica keys are checked here, even if no replica of their type uses them.
  for (const key of GLOBAL_REPLICA_KEYS) {
    const value = root.get(key);
    if (value) replicaOption(key, value);
  }
  const entries = (root.get("dbs")?.list() ?? []).map((v) => readDatabase(v, { globals: root, home }));
  rejectDuplicates(entries);
  const config: WalshipConfig = {
    path,
    dbs: entries.map((e) => e.db),
    logging: readLogging(root),
    schedule: readSchedule(root, entries.flatMap((e) => e.snapshot ? [e.snapshot] : [])),
    shutdownSyncTimeoutMs: root.get("shutdown-sync-timeout")?.duration() ?? 30_000,
    shutdownSyncIntervalMs: root.get("shutdown-sync-interval")?.duration() ?? 500,
  };
  if (config.shutdownSyncIntervalMs <= 0) {
    throw configError(root.lineOf("shutdown-sync-interval"), "shutdown-sync-interval must be greater than 0");
  }
  const addr = root.get("addr");
  if (addr) {
    config.addr = addr.string().trim();
    const port = /^(?:\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(config.addr)?.[1];
    if (port === undefined || Number(port) > 65535) {
      throw configError(
        addr.line,
        `addr must be HOST:PORT or :PORT, got "${config.addr}"`,
        'e.g. addr: ":9090"',
      );
    }
  }
  const exec = root.get("exec")?.string().trim();
  if (exec) config.exec = exec;
  return config;
}

function readLogging(root: ConfigMap): WalshipConfig["logging"] {
  const map = root.get("logging")?.map();
  map?.checkKeys(["level", "type", "stderr"], { source: "walship does not log source lines; remove it" });
  const levelValue = map?.get("level");
  const level = levelValue ? parseLogLevel(levelValue.string()) : "info";
  if (!level) throw configError(levelValue!.line, "logging.level must be debug, info, warn or error");
  const typeValue = map?.get("type");
  // Litestream's "pretty" is colored text; walship writes plain text for it.
  const typeText = typeValue?.string().trim().toLowerCase() ?? "text";
  if (typeText !== "text" && typeText !== "json" && typeText !== "pretty") {
    throw configError(typeValue!.line, "logging.type must be text or json");
  }
  return { level, type: typeText === "json" ? "json" : "text", stderr: map?.get("stderr")?.bool() ?? false };
}

/**
 * Two entries for one database file would fight over its WAL and state directory; two replicas in one
 * place would mix two databases' files.
 */
function rejectDuplicates(entries: DatabaseEntry[]): void {
  const databases = new Map<string, number>();
  const replicas = new Map<string, string>();
  entries.forEach(({ db, line }, i) => {
    const key = db.path ?? `${db.dir}\0${db.pattern}`;
    const earlier = databases.get(key);
    if (earlier !== undefined) {
      throw configError(
        line,
        `database "${db.path ?? db.dir}" is configured twice (also on line ${earlier})`,
      );
    }
    databases.set(key, line);
    for (const replica of db.replicas) {
      const place = replicaLocation(replica.spec);
      const other = replicas.get(place);
      if (other !== undefined) {
        throw configError(
          line,
          `dbs[${i}] replicates to ${place}, as ${other} does`,
          "give each replica its own path",
        );
      }
      replicas.set(place, `dbs[${i}]`);
    }
  });
}

function replicaLocation(spec: ReplicaSpec): string {
  const at = (endpoint: string | undefined) => endpoint ? ` at ${endpoint}` : "";
  switch (spec.type) {
    case "file":
      return `file://${spec.path}`;
    case "s3":
      return `s3://${spec.bucket}/${spec.path}${at(spec.endpoint)}`;
    case "abs":
      return `abs://${spec.accountName ? `${spec.accountName}@` : ""}${spec.container}/${spec.path}${
        at(spec.endpoint)
      }`;
  }
}

/**
 * The configured database for a file, by absolute path: its own `path:` entry, else a directory entry whose
 * `dir` holds it (directly, or below with `recursive`) and whose `pattern` matches its name. A directory
 * entry is returned as is (it has `dir` set); the caller derives that file's replica location from it.
 */
export function findDatabase(config: WalshipConfig, dbPath: string): DatabaseConfig | undefined {
  const path = expandPath(dbPath, Deno.env.get("HOME")) ?? dbPath;
  const exact = config.dbs.find((db) => db.path === path);
  if (exact) return exact;
  return config.dbs.find((db) => {
    if (db.dir === undefined || db.pattern === undefined) return false;
    const prefix = db.dir.endsWith("/") ? db.dir : `${db.dir}/`;
    if (!path.startsWith(prefix)) return false;
    const rest = path.slice(prefix.length);
    const name = rest.slice(rest.lastIndexOf("/") + 1);
    return (db.recursive || !rest.includes("/")) && compileGlob(db.pattern).test(name);
  });
}
