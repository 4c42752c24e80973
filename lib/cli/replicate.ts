/** `walship replicate DB_PATH URL [URL...]`: stream a database to its replicas until signalled. */
import { Database } from "../engine/database.ts";
import { formatTxid } from "../ltx/txid.ts";
import { Replica } from "../engine/replica.ts";
import { Replicator } from "../engine/replicator.ts";
import { parseReplicaUrl } from "../config/replica_url.ts";
import { openReplicaStore } from "../storage/open.ts";
import type { ReplicaStore } from "../storage/store.ts";
import { takeReplicateLock } from "../engine/state_lock.ts";
import { UsageError } from "../util/errors.ts";
import { parseDuration } from "../util/duration.ts";
import { Logger } from "../util/log.ts";
import { type Command, print } from "./command.ts";
import { formatFlags, parseFlags } from "./flags.ts";
import { LOG_FLAGS, loggerFromFlags, onShutdownSignal } from "./common.ts";

const FLAGS = {
  once: { type: "boolean", description: "sync once to every replica, then exit" },
  "force-snapshot": { type: "boolean", description: "with -once: also write a full snapshot" },
  "enforce-retention": { type: "boolean", description: "with -once: also apply the retention policy" },
  "sync-interval": {
    type: "string",
    valueName: "DURATION",
    description: "how often to ship to replicas (1s)",
  },
  "monitor-interval": {
    type: "string",
    valueName: "DURATION",
    description: "how often to read the WAL (1s)",
  },
  ...LOG_FLAGS,
} as const;

export const replicateCommand: Command = {
  name: "replicate",
  summary: "stream a SQLite database to one or more replicas",
  usage: `Usage: walship replicate [flags] DB_PATH REPLICA_URL [REPLICA_URL...]

Copies every committed transaction of DB_PATH (WAL mode) into LTX files and ships them to each
replica until interrupted (SIGINT/SIGTERM syncs once more, then exits).

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("replicate", FLAGS, args);
    if (help) return print(this.usage), 0;
    if (positionals.length < 2) {
      throw new UsageError(
        positionals.length === 0
          ? "replicate needs DB_PATH and REPLICA_URL"
          : `Must specify at least one replica URL for "${positionals[0]}"`,
        { hint: "walship replicate /path/to/app.db file:///path/to/replica" },
      );
    }
    if (flags["force-snapshot"] && !flags.once) throw new UsageError("-force-snapshot works only with -once");
    if (flags["enforce-retention"] && !flags.once) {
      throw new UsageError("-enforce-retention works only with -once", {
        hint: "a running replicate applies retention by itself",
      });
    }
    const logger: Logger = loggerFromFlags(flags);
    const [dbPath, ...urls] = positionals as [string, ...string[]];
    const stores = urls.map((u) => openReplicaStore(parseReplicaUrl(u)));
    const syncIntervalMs = flags["sync-interval"]
      ? parseDuration(flags["sync-interval"], "-sync-interval")
      : 1000;
    const monitorIntervalMs = flags["monitor-interval"]
      ? parseDuration(flags["monitor-interval"], "-monitor-interval")
      : Math.min(1000, syncIntervalMs);
    const db = await Database.open(dbPath, { logger });
    let lock;
    try {
      lock = await takeReplicateLock(db.local.root, dbPath);
    } catch (err) {
      await db.close();
      throw err;
    }
    try {
      return await runReplicator(db, stores, flags, { syncIntervalMs, monitorIntervalMs, logger });
    } finally {
      lock.release();
    }
  },
};

async function runReplicator(
  db: Database,
  stores: ReplicaStore[],
  flags: { once?: boolean; "force-snapshot"?: boolean; "enforce-retention"?: boolean },
  options: { syncIntervalMs: number; monitorIntervalMs: number; logger: Logger },
): Promise<number> {
  const { syncIntervalMs, monitorIntervalMs, logger } = options;
  const dbPath = db.path;
  const replicas = stores.map((s) => new Replica(db, s, { logger }));
  const replicator = new Replicator(db, replicas, { syncIntervalMs, monitorIntervalMs, logger });
  if (flags.once) {
    try {
      await replicator.syncOnce({
        forceSnapshot: flags["force-snapshot"] ?? false,
        enforceRetention: flags["enforce-retention"] ?? false,
      });
    } finally {
      await db.close();
    }
    logger.info("synced once", { db: dbPath, txid: formatTxid(db.txid) });
    return 0;
  }
  logger.info("replicating", { db: dbPath, replicas: stores.map((s) => s.describe()).join(",") });
  await replicator.start();
  const { signal, stopped } = onShutdownSignal(logger);
  await stopped;
  const clean = await replicator.stop(signal);
  logger.info(clean ? "stopped after final sync" : "stopped; some files were not shipped", {
    txid: formatTxid(db.txid),
  });
  return clean ? 0 : 1;
}
