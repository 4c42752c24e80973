/**
 * `walship status [-config F] [-json] [DB_PATH]`: for each configured database file, its local TXID and
 * WAL size (from the state directory, no running walship needed) and each replica's TXID and lag.
 */
import { resolveDatabase, type ResolvedDatabase } from "../config/resolve.ts";
import { scanDirectory } from "../engine/directory_scan.ts";
import { type DatabaseStatus, readDatabaseStatus } from "../engine/replication_status.ts";
import { formatTxid } from "../ltx/txid.ts";
import { openReplicaStore } from "../storage/open.ts";
import { UsageError, WalshipError } from "../util/errors.ts";
import { type Command, print } from "./command.ts";
import { CONFIG_FLAGS, configFromFlags, configuredDatabase } from "./config_source.ts";
import { formatFlags, parseFlags } from "./flags.ts";
import type { WalshipConfig } from "../config/config.ts";

const FLAGS = {
  json: { type: "boolean", description: "print JSON" },
  ...CONFIG_FLAGS,
} as const;

export const statusCommand: Command = {
  name: "status",
  usage: `Usage: walship status [flags] [DB_PATH]

For each database of the config file (or only DB_PATH): status (ok, not initialized, no database), the
TXID of its newest local LTX file, its WAL size, and per replica the newest TXID it holds and its lag:
0 when it holds every local change, else the age of the oldest change it lacks. Exits 1 when a replica
could not be read.

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("status", FLAGS, args);
    if (help) return print(this.usage), 0;
    if (positionals.length > 1) throw new UsageError("status takes at most one DB_PATH");
    const config = await configFromFlags(flags);
    const targets = positionals.length === 1
      ? [configuredDatabase(config, positionals[0]!)]
      : await allDatabases(config);
    const now = Date.now();
    const statuses = await Promise.all(targets.map((t) =>
      readDatabaseStatus(
        t,
        t.replicas.map((r) => ({ name: r.name, store: openReplicaStore(r.spec) })),
        now,
      )
    ));
    if (flags.json) print(JSON.stringify(statuses.map(jsonRow)));
    else printTable(statuses);
    const failed = statuses.flatMap((s) => s.replicas.filter((r) => r.error !== undefined));
    if (failed.length > 0) {
      throw new WalshipError(
        `${failed.length} replica(s) could not be read: ${failed[0]!.url}: ${failed[0]!.error}`,
      );
    }
    return 0;
  },
};

async function allDatabases(config: WalshipConfig): Promise<ResolvedDatabase[]> {
  const targets: ResolvedDatabase[] = [];
  for (const db of config.dbs) {
    const files = db.dir === undefined
      ? [db.path!]
      : await scanDirectory(db.dir, { pattern: db.pattern!, recursive: db.recursive });
    for (const file of files) targets.push(resolveDatabase(db, file));
  }
  return targets;
}

function jsonRow(s: DatabaseStatus) {
  return {
    path: s.path,
    status: s.status,
    txid: formatTxid(s.txid),
    wal_size: s.walBytes,
    replicas: s.replicas.map((r) => ({
      name: r.name,
      url: r.url,
      txid: r.txid === null ? null : formatTxid(r.txid),
      lag_seconds: r.lagMs === null ? null : r.lagMs / 1000,
      newest: r.newestAt === null ? null : new Date(r.newestAt).toISOString(),
      ...(r.error !== undefined ? { error: r.error } : {}),
    })),
  };
}

function printTable(statuses: DatabaseStatus[]): void {
  print("database\tstatus\tlocal_txid\twal_size\treplica\treplica_txid\tlag");
  for (const s of statuses) {
    const head = `${s.path}\t${s.status}\t${formatTxid(s.txid)}\t${humanBytes(s.walBytes)}`;
    if (s.replicas.length === 0) print(`${head}\t-\t-\t-`);
    for (const r of s.replicas) {
      const tail = r.error !== undefined
        ? `error\t${r.error}`
        : `${formatTxid(r.txid!)}\t${(r.lagMs! / 1000).toFixed(1)}s`;
      print(`${head}\t${r.name}\t${tail}`);
    }
  }
}

function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) value /= 1024, unit++;
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}
