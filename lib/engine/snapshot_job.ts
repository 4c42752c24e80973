/**
 * The one-shot backup behind `walship snapshot`: copy the WAL into the local state (sharing it safely
 * with a running `replicate`), write one full L9 snapshot, upload it to each replica that lacks this
 * state, optionally apply retention, and tidy the local state when no `replicate` owns it.
 */
import { formatTxid } from "../ltx/txid.ts";
import { type ReplicaStore, SNAPSHOT_LEVEL } from "../storage/store.ts";
import { errorMessage, WalshipError } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { Database, type LocalSnapshot } from "./database.ts";
import { ReplicaMaintenance } from "./maintenance.ts";
import { Replica } from "./replica.ts";
import { snapshotFromL0 } from "./snapshot_from_l0.ts";
import { DEFAULT_SCHEDULE, type MaintenanceSchedule } from "./schedule.ts";
import { tryReplicateLock } from "./state_lock.ts";

export interface SnapshotJobOptions {
  enforceRetention?: boolean;
  schedule?: MaintenanceSchedule;
  logger?: Logger;
  now?: () => number;
  metaPath?: string;
}

export interface ReplicaSnapshotResult {
  replica: string;
  txid: bigint;
  sizeBytes: number;
  /** The replica already held a snapshot of this state: nothing was uploaded. */
  unchanged: boolean;
  /** Files retention removed. */
  removed: number;
  error?: string;
}

export async function runSnapshotJob(
  dbPath: string,
  stores: ReplicaStore[],
  options: SnapshotJobOptions = {},
): Promise<ReplicaSnapshotResult[]> {
  const logger = options.logger ?? silentLogger;
  const schedule = options.schedule ?? DEFAULT_SCHEDULE;
  const db = await Database.open(dbPath, { logger, now: options.now, metaPath: options.metaPath });
  const results: ReplicaSnapshotResult[] = [];
  let snapshot: LocalSnapshot | null = null;
  try {
    await startAboveReplicas(db, stores, logger);
    await db.sync();
    if (db.txid === 0n) {
      throw new WalshipError(`Database "${dbPath}" is empty: nothing to snapshot`, {
        hint: "create a table first",
      });
    }
    for (const store of stores) {
      const result: ReplicaSnapshotResult = {
        replica: store.describe(),
        txid: db.txid,
        sizeBytes: 0,
        unchanged: false,
        removed: 0,
      };
      results.push(result);
      try {
        const newest = (await store.list(SNAPSHOT_LEVEL)).at(-1);
        if (newest && newest.maxTxid >= db.txid) {
          // Re-uploading 1-<txid> would replace the old object and move its time forward.
          Object.assign(result, { unchanged: true, txid: newest.maxTxid, sizeBytes: newest.sizeBytes });
        } else {
          // The first run in a fresh state directory has just written every page to an L0 file.
          snapshot ??= (await snapshotFromL0(db, options.now)) ?? await db.snapshot();
          if (!snapshot) throw new WalshipError(`Database "${dbPath}" has no pages to snapshot`);
          await new Replica(db, store, { logger }).upload(snapshot);
          Object.assign(result, { txid: snapshot.maxTxid, sizeBytes: snapshot.sizeBytes });
        }
        if (options.enforceRetention) {
          if (!schedule.retentionEnabled) {
            logger.warn("retention is disabled in the config; not enforcing it", { replica: result.replica });
          } else {
            const maintenance = new ReplicaMaintenance(store, {
              schedule,
              scratchDir: db.scratchDir,
              now: options.now,
              logger,
            });
            result.removed = (await maintenance.enforceRetention()).length;
          }
        }
      } catch (err) {
        result.error = errorMessage(err);
        logger.debug("snapshot to replica failed", { replica: result.replica, error: result.error });
      }
    }
    await pruneUnlessReplicating(db);
  } finally {
    if (snapshot) await db.discardSnapshot(snapshot);
    await db.close();
  }
  logger.debug("snapshot job done", { db: dbPath, txid: formatTxid(db.txid) });
  return results;
}

/**
 * A replica ahead of the local state (its state directory was removed, or another host wrote there)
 * would make this run's TXID look old, and a changed database "unchanged". As `replicate` does, the next
 * L0 file is then a snapshot above the replica's newest TXID. Skipped beside a running `replicate`,
 * which tracks its replicas itself; a replica that cannot be read reports its error when uploading.
 */
async function startAboveReplicas(db: Database, stores: ReplicaStore[], logger: Logger): Promise<void> {
  const lock = await tryReplicateLock(db.local.root);
  if (!lock) return;
  try {
    let max = 0n;
    for (const store of stores) {
      const position = await new Replica(db, store, { logger }).readPosition().catch(() => 0n);
      if (position > max) max = position;
    }
    if (max > db.txid) {
      logger.warn("replica is ahead of the local state; this snapshot starts above it", {
        replicaTxid: formatTxid(max),
      });
      db.ensureTxidAbove(max);
    }
  } finally {
    lock.release();
  }
}

/**
 * Without a `replicate` running, nobody ships local L0 files: keep only the newest (the position), so a
 * cron job does not grow the state directory. A later `replicate` re-seeds replicas from a snapshot.
 */
async function pruneUnlessReplicating(db: Database): Promise<void> {
  const lock = await tryReplicateLock(db.local.root);
  if (!lock) return;
  try {
    const files = await db.local.list(0);
    if (files.length > 1) await db.local.remove(files.slice(0, -1));
  } finally {
    lock.release();
  }
}
