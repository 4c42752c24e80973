/**
 * One database file under the supervisor: restores it first when it is missing (if asked), opens it,
 * holds its replicate lock, runs its Replicator, and reports what the metrics need.
 */
import type { ResolvedDatabase } from "../config/resolve.ts";
import type { ReplicaSpec } from "../config/replica_url.ts";
import type { DatabaseOptions } from "./database.ts";
import { formatTxid } from "../ltx/txid.ts";
import { countErrors, type ErrorCountingStore } from "../metrics/error_counting_store.ts";
import type { ReplicaStore } from "../storage/store.ts";
import { errorMessage, WalshipError } from "../util/errors.ts";
import { exists } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { Database } from "./database.ts";
import { Replica } from "./replica.ts";
import { replicaLagMs, walSizeBytes } from "./replication_status.ts";
import { Replicator, type SyncOnceOptions } from "./replicator.ts";
import { restoreMissingDatabase } from "./restore_missing.ts";
import type { MaintenanceSchedule } from "./schedule.ts";
import { takeReplicateLock } from "./state_lock.ts";

export interface DatabaseRunnerOptions {
  schedule: MaintenanceSchedule;
  shutdownSyncTimeoutMs: number;
  shutdownSyncIntervalMs: number;
  /** Restore from the first replica with a backup when the file is missing. */
  restoreIfMissing: boolean;
  /** Engine options of the database (meta path, checkpoints, busy timeout). */
  databaseOptions: DatabaseOptions;
  monitorIntervalMs: number;
  openStore: (spec: ReplicaSpec) => ReplicaStore;
  logger: Logger;
}

/** The database file is not there (yet). */
export class MissingDatabaseError extends WalshipError {
  override name = "MissingDatabaseError";
}

export interface ReplicaStats {
  name: string;
  /** Newest TXID the replica is known to hold; null before it was first read. */
  txid: bigint | null;
  lagMs: number;
  shippedBytes: number;
  shippedFiles: number;
  errors: number;
}

export interface DatabaseStats {
  path: string;
  /** False while the database waits to be opened (missing, or retrying after an error). */
  running: boolean;
  txid: bigint;
  walBytes: number;
  replicas: ReplicaStats[];
}

interface ReplicaSlot {
  name: string;
  store: ErrorCountingStore;
  syncIntervalMs: number;
  /** Last position seen, kept across the moments a failing replica's position is unknown. */
  lastTxid: bigint | null;
}

export class DatabaseRunner {
  readonly target: ResolvedDatabase;
  #o: DatabaseRunnerOptions;
  #logger: Logger;
  #slots: ReplicaSlot[];
  #replicator: Replicator | null = null;
  #release: (() => void) | null = null;

  constructor(target: ResolvedDatabase, options: DatabaseRunnerOptions) {
    this.target = target;
    this.#o = options;
    this.#logger = options.logger.with({ db: target.path });
    // Stores live as long as the runner, so SDK clients and error counts survive reopening.
    this.#slots = target.replicas.map((r) => ({
      name: r.name,
      store: countErrors(options.openStore(r.spec)),
      syncIntervalMs: r.syncIntervalMs,
      lastTxid: null,
    }));
  }

  get path(): string {
    return this.target.path;
  }

  get running(): boolean {
    return this.#replicator !== null;
  }

  /** Opens the database and starts replicating it. Throws MissingDatabaseError when the file is absent. */
  async start(): Promise<void> {
    const { db, release } = await this.#open();
    const replicator = this.#newReplicator(db);
    try {
      await replicator.start();
    } catch (err) {
      await replicator.stop().catch(() => {});
      release();
      throw err;
    }
    this.#replicator = replicator;
    this.#release = release;
    this.#logger.info("replicating", {
      txid: formatTxid(db.txid),
      replicas: this.#slots.map((s) => {
        const url = s.store.describe();
        return s.name === url ? url : `${s.name}=${url}`;
      }).join(" "),
    });
  }

  /** `replicate -once`: one WAL copy and one shipment to every replica, errors thrown. */
  async syncOnce(options: SyncOnceOptions): Promise<void> {
    const { db, release } = await this.#open();
    try {
      await this.#newReplicator(db).syncOnce(options);
    } finally {
      await db.close();
      release();
    }
    this.#logger.info("synced once", { txid: formatTxid(db.txid) });
  }

  /** Final sync within the shutdown timeout, then closes. Resolves false when something was left unshipped. */
  async stop(signal?: AbortSignal): Promise<boolean> {
    const replicator = this.#replicator;
    if (!replicator) return true;
    this.#replicator = null;
    try {
      const clean = await replicator.stop(signal);
      this.#logger.info(clean ? "stopped after final sync" : "stopped; some files were not shipped", {
        txid: formatTxid(replicator.db.txid),
      });
      return clean;
    } catch (err) {
      this.#logger.error("final sync failed", { error: errorMessage(err) });
      return false;
    } finally {
      this.#release?.();
      this.#release = null;
    }
  }

  async stats(now = Date.now()): Promise<DatabaseStats> {
    const replicator = this.#replicator;
    const replicas = replicator?.replicas ?? [];
    const localL0 = replicator ? await replicator.db.local.list(0).catch(() => []) : [];
    return {
      path: this.path,
      running: replicator !== null,
      txid: replicator?.db.txid ?? 0n,
      walBytes: replicator ? await walSizeBytes(this.path) : 0,
      replicas: this.#slots.map((slot, i) => {
        const replica = replicas[i];
        if (replica?.position != null) slot.lastTxid = replica.position;
        return {
          name: slot.name,
          txid: slot.lastTxid,
          lagMs: replicator ? replicaLagMs(localL0, slot.lastTxid, now) : 0,
          shippedBytes: replica?.shippedBytes ?? 0,
          shippedFiles: replica?.shippedFiles ?? 0,
          errors: slot.store.errors,
        };
      }),
    };
  }

  async #open(): Promise<{ db: Database; release: () => void }> {
    const path = this.path;
    if (!(await exists(path))) {
      if (this.#o.restoreIfMissing) {
        await restoreMissingDatabase(path, this.#slots, this.#logger);
      }
      if (!(await exists(path))) {
        throw new MissingDatabaseError(`Database "${path}" does not exist`, {
          hint: "check the path, or create it first",
        });
      }
    }
    const db = await Database.open(path, { ...this.#o.databaseOptions, logger: this.#logger });
    try {
      const lock = await takeReplicateLock(db.local.root, path);
      return { db, release: () => lock.release() };
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  #newReplicator(db: Database): Replicator {
    const replicas = this.#slots.map((s) => new Replica(db, s.store, { name: s.name, logger: this.#logger }));
    return new Replicator(db, replicas, {
      monitorIntervalMs: this.#o.monitorIntervalMs,
      syncIntervalMs: Math.min(...this.#slots.map((s) => s.syncIntervalMs)),
      replicaSyncIntervalsMs: this.#slots.map((s) => s.syncIntervalMs),
      shutdownSyncTimeoutMs: this.#o.shutdownSyncTimeoutMs,
      shutdownSyncIntervalMs: this.#o.shutdownSyncIntervalMs,
      schedule: this.#o.schedule,
      logger: this.#logger,
    });
  }
}
