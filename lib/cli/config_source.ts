/** The `-config` and `-no-expand-env` flags, and turning configured databases into engine options. */
import { resolve } from "node:path";
import {
  type DatabaseConfig,
  findDatabase,
  loadConfig,
  type ReplicaConfig,
  type WalshipConfig,
} from "../config/config.ts";
import { resolveDatabase, type ResolvedDatabase } from "../config/resolve.ts";
import { UsageError } from "../util/errors.ts";
import type { DatabaseOptions } from "../engine/database.ts";
import type { Logger } from "../util/log.ts";

export const CONFIG_FLAGS = {
  config: {
    type: "string",
    valueName: "PATH",
    description: "config file (default $WALSHIP_CONFIG, else /etc/walship.yml)",
  },
  "no-expand-env": { type: "boolean", description: "do not expand $VAR and ${VAR} in the config file" },
} as const;

export function configFromFlags(
  flags: { config?: string; "no-expand-env"?: boolean },
): Promise<WalshipConfig> {
  return loadConfig(flags.config, { expandEnv: !flags["no-expand-env"] });
}

/** Engine options of one configured database. */
export function databaseOptions(
  db: DatabaseConfig,
  metaPath: string | undefined,
  logger: Logger,
): DatabaseOptions {
  return {
    metaPath,
    checkpointIntervalMs: db.checkpointIntervalMs,
    minCheckpointPageCount: db.minCheckpointPageCount,
    truncatePageCount: db.truncatePageCount,
    busyTimeoutMs: db.busyTimeoutMs,
    maxSyncWalBytes: db.maxSyncWalBytes > 0 ? db.maxSyncWalBytes : Number.MAX_SAFE_INTEGER,
    logger,
  };
}

/** The configured database for `dbPath`, or a one-line error naming the config file. */
export function configuredDatabase(config: WalshipConfig, dbPath: string): ResolvedDatabase {
  const entry = findDatabase(config, dbPath);
  if (!entry) {
    throw new UsageError(`Database "${dbPath}" is not in the config file ${config.path}`, {
      hint: "check the path, or pass a replica URL instead",
    });
  }
  return resolveDatabase(entry, resolve(dbPath));
}

/** The replica named by `-replica`, else the database's first one. */
export function pickReplica(db: ResolvedDatabase, name: string | undefined): ReplicaConfig {
  if (name === undefined) return db.replicas[0]!;
  const found = db.replicas.find((r) => r.name === name);
  if (!found) {
    throw new UsageError(`Database "${db.path}" has no replica named "${name}"`, {
      hint: `its replicas: ${db.replicas.map((r) => r.name).join(", ")}`,
    });
  }
  return found;
}
