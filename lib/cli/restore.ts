/** `walship restore -o OUT URL`: rebuild a database from a replica, latest or at a point in time. */
import { isReplicaUrl, parseReplicaUrl } from "../config/replica_url.ts";
import { type IntegrityCheck, prepareOutputPath, restoreWithReplanning } from "../engine/restore.ts";
import { NoBackupError, planRestore, type RestoreTarget } from "../engine/restore_plan.ts";
import { formatTxid, parseTxid } from "../ltx/txid.ts";
import { openReplicaStore } from "../storage/open.ts";
import { UsageError } from "../util/errors.ts";
import { exists } from "../util/fs.ts";
import { type Command, print } from "./command.ts";
import { LOG_FLAGS, loggerFromFlags, ltxFileRow } from "./common.ts";
import { CONFIG_FLAGS, configFromFlags, configuredDatabase, pickReplica } from "./config_source.ts";
import { AGE_FLAGS, withAgeFlags } from "./age_flags.ts";
import { formatFlags, parseFlags } from "./flags.ts";

const FLAGS = {
  o: { type: "string", valueName: "PATH", description: "output database path (required with a URL)" },
  txid: { type: "string", valueName: "TXID", description: "restore up to this TXID (16 hex digits)" },
  timestamp: {
    type: "string",
    valueName: "TIME",
    description: "restore the state before this RFC 3339 time",
  },
  "if-db-not-exists": { type: "boolean", description: "do nothing if the output database exists" },
  "if-replica-exists": { type: "boolean", description: "exit 0 when the replica has no backup" },
  parallelism: { type: "integer", valueName: "N", description: "concurrent downloads (8)" },
  "dry-run": { type: "boolean", description: "print the restore plan, write nothing" },
  force: { type: "boolean", description: "overwrite an existing output database" },
  json: { type: "boolean", description: "print a JSON summary on stdout" },
  "integrity-check": { type: "string", valueName: "MODE", description: "none, quick or full (none)" },
  replica: {
    type: "string",
    valueName: "NAME",
    description: "with DB_PATH: restore from this replica (the first)",
  },
  ...AGE_FLAGS,
  ...CONFIG_FLAGS,
  ...LOG_FLAGS,
} as const;

const RESTORE_ATTEMPTS = 8;

export const restoreCommand: Command = {
  name: "restore",
  usage: `Usage: walship restore [flags] REPLICA_URL
       walship restore [flags] DB_PATH        (replica from the config file; -o defaults to DB_PATH)

Rebuilds a database from a replica: the latest state, or the state at -txid or -timestamp. Writes
OUT.tmp, fsyncs and renames, so an interrupted restore never leaves a half database under OUT.

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("restore", FLAGS, args);
    if (help) return print(this.usage), 0;
    if (positionals.length !== 1) {
      throw new UsageError("restore needs exactly one REPLICA_URL or DB_PATH", {
        hint: "walship restore -o app.db file:///path/to/replica",
      });
    }
    const source = positionals[0]!;
    const target = parseTarget(flags);
    // A point-in-time restore compares LTX timestamps, which some stores only give for extra requests.
    // A restore is one job with nothing to come back to: it rides out a flaky network longer (8 attempts,
    // ~20 s of backoff) than a replicate tick, whose next tick tries again anyway.
    const storeOptions = { exactTimestamps: target.timestamp !== undefined, attempts: RESTORE_ATTEMPTS };
    let store;
    let out = flags.o ?? "";
    if (isReplicaUrl(source)) {
      if (flags.replica !== undefined) {
        throw new UsageError("-replica works only with DB_PATH and a config file");
      }
      store = openReplicaStore(await withAgeFlags(parseReplicaUrl(source), flags, "url"), storeOptions);
      if (!out && !flags["dry-run"]) {
        throw new UsageError("restore from a URL needs -o PATH for the output database");
      }
    } else {
      const db = configuredDatabase(await configFromFlags(flags), source);
      store = openReplicaStore(
        await withAgeFlags(pickReplica(db, flags.replica).spec, flags, "config"),
        storeOptions,
      );
      out ||= db.path;
    }
    const integrityCheck = (flags["integrity-check"] ?? "none") as IntegrityCheck;
    if (!["none", "quick", "full"].includes(integrityCheck)) {
      throw new UsageError(`-integrity-check takes none, quick or full, not "${integrityCheck}"`);
    }
    const parallelism = flags.parallelism ?? 8;
    if (parallelism < 1) throw new UsageError("-parallelism must be at least 1");
    const logger = loggerFromFlags(flags);
    if (flags["if-db-not-exists"] && await exists(out)) {
      logger.info("database already exists, skipping", { path: out });
      return 0;
    }
    let plan;
    try {
      plan = await planRestore(store, target);
    } catch (err) {
      if (err instanceof NoBackupError && flags["if-replica-exists"]) {
        logger.info("no backup found, skipping", { replica: store.describe() });
        return 0;
      }
      throw err;
    }
    if (flags["dry-run"]) {
      const rows = plan.map(ltxFileRow);
      if (flags.json) {
        print(
          JSON.stringify({ replica: store.describe(), txid: formatTxid(plan.at(-1)!.maxTxid), files: rows }),
        );
      } else {
        print(`restore plan: ${plan.length} file(s) to TXID ${formatTxid(plan.at(-1)!.maxTxid)}`);
        for (const r of rows) print(`L${r.level}\t${r.min_txid}-${r.max_txid}\t${r.size}\t${r.created}`);
      }
      return 0;
    }
    await prepareOutputPath(out, flags.force ?? false);
    const started = performance.now();
    const result = await restoreWithReplanning(store, plan, target, out, { parallelism, integrityCheck });
    const durationMs = Math.round(performance.now() - started);
    if (flags.json) {
      print(JSON.stringify({
        db_path: out,
        replica: store.describe(),
        txid: formatTxid(result.txid),
        files: result.plan.length,
        duration_ms: durationMs,
        integrity_check: integrityCheck,
      }));
    } else {
      logger.info("restored", {
        path: out,
        txid: formatTxid(result.txid),
        files: result.plan.length,
        ms: durationMs,
      });
    }
    return 0;
  },
};

function parseTarget(flags: { txid?: string; timestamp?: string }): RestoreTarget {
  if (flags.txid !== undefined && flags.timestamp !== undefined) {
    throw new UsageError("Cannot use -txid and -timestamp together");
  }
  if (flags.txid !== undefined) {
    try {
      return { txid: parseTxid(flags.txid) };
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (flags.timestamp !== undefined) {
    const ms = Date.parse(flags.timestamp);
    if (
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(flags.timestamp) || Number.isNaN(ms)
    ) {
      throw new UsageError(
        `Invalid -timestamp "${flags.timestamp}": expected RFC 3339, e.g. 2026-01-02T15:04:05Z`,
      );
    }
    return { timestamp: ms };
  }
  return {};
}
