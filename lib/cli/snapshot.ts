/** `walship snapshot DB_PATH URL [URL...]`: one full backup of a live database, for cron. */
import { parseReplicaUrl } from "../config/replica_url.ts";
import { runSnapshotJob } from "../engine/snapshot_job.ts";
import { formatTxid } from "../ltx/txid.ts";
import { openReplicaStore } from "../storage/open.ts";
import { UsageError, WalshipError } from "../util/errors.ts";
import { type Command, print } from "./command.ts";
import { LOG_FLAGS, loggerFromFlags } from "./common.ts";
import { formatFlags, parseFlags } from "./flags.ts";

const FLAGS = {
  "enforce-retention": { type: "boolean", description: "apply the retention policy after the snapshot" },
  json: { type: "boolean", description: "print a JSON summary on stdout" },
  ...LOG_FLAGS,
} as const;

export const snapshotCommand: Command = {
  name: "snapshot",
  summary: "take one full snapshot of a live database (for cron), then exit",
  usage: `Usage: walship snapshot [flags] DB_PATH REPLICA_URL [REPLICA_URL...]

Writes one consistent full snapshot (level 9) of a live database to each replica and exits: 0 when
every replica has it, 1 otherwise. Safe beside a running "walship replicate" of the same database.
A replica that already holds a snapshot of the current state is left as it is.

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("snapshot", FLAGS, args);
    if (help) return print(this.usage), 0;
    if (positionals.length < 2) {
      throw new UsageError("snapshot needs DB_PATH and at least one REPLICA_URL", {
        hint: "walship snapshot /data/app.db file:///backups/app",
      });
    }
    const logger = loggerFromFlags(flags);
    const [dbPath, ...urls] = positionals as [string, ...string[]];
    const stores = urls.map((u) => openReplicaStore(parseReplicaUrl(u)));
    const started = performance.now();
    const results = await runSnapshotJob(dbPath, stores, {
      enforceRetention: flags["enforce-retention"] ?? false,
      logger,
    });
    const durationMs = Math.round(performance.now() - started);
    if (flags.json) {
      print(JSON.stringify({
        db_path: dbPath,
        duration_ms: durationMs,
        replicas: results.map((r) => ({
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
          } of ${dbPath} in ${r.replica} (${r.sizeBytes} bytes, ${durationMs} ms${removed})`,
        );
      }
    }
    const failed = results.filter((r) => r.error);
    if (failed.length > 0) {
      throw new WalshipError(
        failed.map((r) => `snapshot to ${r.replica} failed: ${r.error}`).join("; "),
      );
    }
    return 0;
  },
};
