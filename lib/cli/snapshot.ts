/** `walship snapshot DB_PATH URL [URL...]`: one full backup of a live database, for cron. */
import { isReplicaUrl, parseReplicaUrl } from "../config/replica_url.ts";
import { resolveDatabase } from "../config/resolve.ts";
import {
  type ReplicaSnapshotResult,
  runSnapshotJob,
  type SnapshotJobOptions,
} from "../engine/snapshot_job.ts";
import type { ReplicaStore } from "../storage/store.ts";
import { formatTxid } from "../ltx/txid.ts";
import { openReplicaStore } from "../storage/open.ts";
import { errorMessage, UsageError, WalshipError } from "../util/errors.ts";
import { type Command, print } from "./command.ts";
import { LOG_FLAGS, loggerFromFlags } from "./common.ts";
import { CONFIG_FLAGS, configFromFlags, configuredDatabase } from "./config_source.ts";
import { formatFlags, parseFlags } from "./flags.ts";
import { AGE_FLAGS, type AgeFlagValues, withAgeFlags } from "./age_flags.ts";

const FLAGS = {
  "enforce-retention": { type: "boolean", description: "apply the retention policy after the snapshot" },
  json: { type: "boolean", description: "print a JSON summary on stdout" },
  ...AGE_FLAGS,
  ...CONFIG_FLAGS,
  ...LOG_FLAGS,
} as const;

export const snapshotCommand: Command = {
  name: "snapshot",
  usage: `Usage: walship snapshot [flags] DB_PATH REPLICA_URL [REPLICA_URL...]
       walship snapshot [flags] [DB_PATH]     (databases and replicas from the config file)

Writes one consistent full snapshot (level 9) of a live database to each replica and exits: 0 when
every replica has it, 1 otherwise. Safe beside a running "walship replicate" of the same database.
A replica that already holds a snapshot of the current state is left as it is.

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("snapshot", FLAGS, args);
    if (help) return print(this.usage), 0;
    const logger = loggerFromFlags(flags);
    const jobs = await snapshotJobs(positionals, flags);
    const enforceRetention = flags["enforce-retention"] ?? false;
    const started = performance.now();
    const results: (ReplicaSnapshotResult & { db: string })[] = [];
    for (const job of jobs) {
      try {
        const done = await runSnapshotJob(job.path, job.stores, { ...job.options, enforceRetention, logger });
        results.push(...done.map((r) => ({ ...r, db: job.path })));
      } catch (err) {
        if (jobs.length === 1) throw err;
        results.push({
          db: job.path,
          replica: "",
          txid: 0n,
          sizeBytes: 0,
          unchanged: false,
          removed: 0,
          error: errorMessage(err),
        });
      }
    }
    const durationMs = Math.round(performance.now() - started);
    if (flags.json) {
      print(JSON.stringify({
        duration_ms: durationMs,
        replicas: results.map((r) => ({
          db_path: r.db,
          replica: r.replica,
          txid: formatTxid(r.txid),
          size: r.sizeBytes,
          unchanged: r.unchanged,
          removed: r.removed,
          ...(r.error ? { error: r.error } : {}),
        })),
      }));
    } else {
      for (const r of results) {
        if (r.error) continue;
        const what = r.unchanged ? "unchanged since snapshot" : "snapshot";
        const removed = r.removed > 0 ? `, retention removed ${r.removed} file(s)` : "";
        print(
          `${what} ${
            formatTxid(r.txid)
          } of ${r.db} in ${r.replica} (${r.sizeBytes} bytes, ${durationMs} ms${removed})`,
        );
      }
    }
    const failed = results.filter((r) => r.error);
    if (failed.length > 0) {
      throw new WalshipError(
        failed.map((r) => `snapshot ${r.replica ? `to ${r.replica}` : `of ${r.db}`} failed: ${r.error}`).join(
          "; ",
        ),
      );
    }
    return 0;
  },
};

interface SnapshotJob {
  path: string;
  stores: ReplicaStore[];
  options: SnapshotJobOptions;
}

/** What to snapshot: a database and URLs from the command line, or databases from the config file. */
async function snapshotJobs(
  positionals: string[],
  flags: { config?: string; "no-expand-env"?: boolean } & AgeFlagValues,
): Promise<SnapshotJob[]> {
  if (positionals.length >= 2 || (positionals.length === 1 && isReplicaUrl(positionals[0]!))) {
    const [dbPath, ...urls] = positionals as [string, ...string[]];
    if (isReplicaUrl(dbPath) || urls.some((u) => !isReplicaUrl(u))) {
      throw new UsageError("snapshot takes DB_PATH first, then REPLICA_URLs", {
        hint: "walship snapshot /data/app.db file:///backups/app",
      });
    }
    const stores = await Promise.all(
      urls.map(async (u) => openReplicaStore(await withAgeFlags(parseReplicaUrl(u), flags, "url"))),
    );
    return [{ path: dbPath, stores, options: {} }];
  }
  const config = await configFromFlags(flags);
  const databases = positionals.length === 1
    ? [configuredDatabase(config, positionals[0]!)]
    : config.dbs.map((db) => {
      if (db.path === undefined) {
        throw new UsageError(`snapshot of a directory entry (${db.dir}) needs the database path`, {
          hint: "walship snapshot -config FILE /path/to/one.db",
        });
      }
      return resolveDatabase(db, db.path);
    });
  if (databases.length === 0) throw new UsageError(`No databases in the config file ${config.path}`);
  return await Promise.all(databases.map(async (db) => ({
    path: db.path,
    stores: await Promise.all(
      db.replicas.map(async (r) => openReplicaStore(await withAgeFlags(r.spec, flags, "config"))),
    ),
    options: { schedule: config.schedule, metaPath: db.metaPath },
  })));
}
