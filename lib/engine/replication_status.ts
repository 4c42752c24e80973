/**
 * How far a database and its replicas have got, read from the state directory and the replicas'
 * listings (no running walship needed): for `walship status`, and the lag the metrics report.
 */
import { errorMessage } from "../util/errors.ts";
import type { LtxFileInfo, ReplicaStore } from "../storage/store.ts";
import { defaultMetaPath, LocalStore } from "./local_store.ts";
import { listAllLevels } from "./restore_plan.ts";
import { exists } from "../util/fs.ts";

export interface ReplicaStatus {
  name: string;
  /** The store's printable location, secrets redacted. */
  url: string;
  /** Newest TXID in the replica (any level); null when it could not be listed. */
  txid: bigint | null;
  /** Creation time (ms) of the replica's newest file; null when it is empty or could not be listed. */
  newestAt: number | null;
  /** See replicaLagMs; null when it could not be listed. */
  lagMs: number | null;
  error?: string;
}

export interface DatabaseStatus {
  path: string;
  /** "ok": local LTX files exist; "not initialized": none yet; "no database": the file is missing. */
  status: "ok" | "not initialized" | "no database";
  /** TXID of the newest local L0 file (0 before the first sync). */
  txid: bigint;
  /** Size of the `-wal` file; 0 without one. */
  walBytes: number;
  replicas: ReplicaStatus[];
}

export interface NamedStore {
  name: string;
  store: Pick<ReplicaStore, "list" | "describe">;
}

/**
 * How long a replica has been missing data: 0 when it holds every local L0 file, else the age of the
 * oldest one it lacks. Unlike "time since the newest upload", an idle, caught-up database stays at 0.
 */
export function replicaLagMs(
  localL0: readonly LtxFileInfo[],
  replicaTxid: bigint | null,
  now: number,
): number {
  let oldest = Infinity;
  for (const f of localL0) {
    if ((replicaTxid === null || f.maxTxid > replicaTxid) && f.createdAt < oldest) oldest = f.createdAt;
  }
  return oldest === Infinity ? 0 : Math.max(0, now - oldest);
}

/** Bytes in the database's WAL file, 0 when there is none. Stats by path: no descriptor of the database is opened. */
export async function walSizeBytes(dbPath: string): Promise<number> {
  try {
    return (await Deno.stat(`${dbPath}-wal`)).size;
  } catch {
    return 0;
  }
}

/** Reads one database's status; a replica that cannot be listed gets `error`, the others are still read. */
export async function readDatabaseStatus(
  db: { path: string; metaPath?: string | undefined },
  replicas: readonly NamedStore[],
  now: number = Date.now(),
): Promise<DatabaseStatus> {
  const local = new LocalStore(db.metaPath ?? defaultMetaPath(db.path));
  const localL0 = await local.list(0);
  const txid = localL0.at(-1)?.maxTxid ?? 0n;
  const present = await exists(db.path);
  return {
    path: db.path,
    status: !present ? "no database" : localL0.length > 0 ? "ok" : "not initialized",
    txid,
    walBytes: present ? await walSizeBytes(db.path) : 0,
    replicas: await Promise.all(replicas.map((r) => readReplicaStatus(r, localL0, now))),
  };
}

async function readReplicaStatus(
  { name, store }: NamedStore,
  localL0: readonly LtxFileInfo[],
  now: number,
): Promise<ReplicaStatus> {
  const url = store.describe();
  try {
    let txid = 0n;
    let newestAt: number | null = null;
    for (const files of (await listAllLevels(store)).values()) {
      for (const f of files) {
        if (f.maxTxid > txid) txid = f.maxTxid;
        if (newestAt === null || f.createdAt > newestAt) newestAt = f.createdAt;
      }
    }
    return { name, url, txid, newestAt, lagMs: replicaLagMs(localL0, txid, now) };
  } catch (err) {
    return { name, url, txid: null, newestAt: null, lagMs: null, error: errorMessage(err) };
  }
}
