/**
 * Runs one database and its replicas: copies the WAL every monitor interval, ships to each replica every
 * sync interval with its own backoff, compacts, snapshots and prunes each replica in the background,
 * prunes local files every replica has, and syncs once more on stop.
 */
import { formatTxid } from "../ltx/txid.ts";
import type { LtxFileInfo } from "../storage/store.ts";
import { SNAPSHOT_LEVEL } from "../storage/store.ts";
import { errorMessage } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import type { Database } from "./database.ts";
import { LocalMirror } from "./local_store.ts";
import { ReplicaMaintenance } from "./maintenance.ts";
import type { Replica } from "./replica.ts";
import { alignDown, DEFAULT_SCHEDULE, type MaintenanceSchedule } from "./schedule.ts";
import { sameReading } from "./wal_probe.ts";

/** Longest run of skipped idle ticks: a full cycle also picks up what the WAL probe cannot see. */
const FULL_CYCLE_AT_LEAST_EVERY_MS = 60_000;
/** Skipped ticks in a row before the loop dozes: waits for the WAL to change instead of ticking. */
const DOZE_AFTER_SKIPPED_TICKS = 5;
/** A dozing loop still wakes this often, for maintenance and checkpoints that come due by time. */
const DOZE_WAKE_MS = 5000;

export interface ReplicatorOptions {
  /** How often the WAL is read. @default 1000 */
  monitorIntervalMs?: number;
  /** How often new files are shipped to each replica. @default 1000 */
  syncIntervalMs?: number;
  /** Per replica sync intervals (index as in `replicas`), overriding `syncIntervalMs`. */
  replicaSyncIntervalsMs?: readonly (number | undefined)[];
  /** Longest wait between attempts after repeated errors. @default 30000 */
  maxBackoffMs?: number;
  /** Time the final sync on shutdown may take, retries included. @default 30000 */
  shutdownSyncTimeoutMs?: number;
  /** First wait between final sync retries, doubled up to 5 s. @default 500 */
  shutdownSyncIntervalMs?: number;
  /** Compaction levels, snapshots and retention. @default DEFAULT_SCHEDULE */
  schedule?: MaintenanceSchedule;
  logger?: Logger;
  /** Clock in ms, injectable for tests. @default Date.now */
  now?: () => number;
}

interface ReplicaState {
  replica: Replica;
  maintenance: ReplicaMaintenance;
  nextAttemptAt: number;
  failures: number;
  maintenanceRetryAt: number;
  maintenanceFailures: number;
  syncIntervalMs: number;
  /** The shipment under way: a slow or failing replica never holds up the WAL copy or the other replicas. */
  shipping: Promise<void> | null;
}

export interface SyncOnceOptions {
  /** Also give every replica a full L9 snapshot of the current position. */
  forceSnapshot?: boolean;
  /** Also apply the retention policy to every replica. */
  enforceRetention?: boolean;
  /**
   * Also run the compactions and snapshots that are due, as the loop does (tests step a fake clock
   * this way). `replicate -once` leaves them to a running replicate, as Litestream does.
   */
  maintain?: boolean;
}

export class Replicator {
  readonly db: Database;
  #states: ReplicaState[];
  #o: Required<Omit<ReplicatorOptions, "logger" | "now" | "replicaSyncIntervalsMs">>;
  #logger: Logger;
  #now: () => number;
  #maintaining: Promise<void> | null = null;
  #maintenanceAbort = new AbortController();
  #shipAbort = new AbortController();
  /** The last snapshot boundary checked; null until the first check after start. */
  #snapshotBoundary: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the doze under way (closes its watcher), if any. */
  #endDoze: (() => void) | null = null;
  #running: Promise<void> | null = null;
  /** Settles when the cycle under way has copied the WAL and its shipments have landed. */
  #urgent: Promise<void> | null = null;
  #stopping = false;
  #dbFailures = 0;
  #dbNextAttemptAt = 0;
  /** The probe's reading taken just before the last full cycle, and when that cycle began. */
  #lastReading: Uint8Array | null = null;
  #lastFullCycleAt = 0;
  /** Maintenance changed the replica since the last full cycle (local files may now be prunable). */
  #maintenanceWorked = false;
  lastError: string | null = null;

  constructor(db: Database, replicas: Replica[], options: ReplicatorOptions = {}) {
    this.db = db;
    this.#o = {
      monitorIntervalMs: options.monitorIntervalMs ?? 1000,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      shutdownSyncTimeoutMs: options.shutdownSyncTimeoutMs ?? 30_000,
      shutdownSyncIntervalMs: options.shutdownSyncIntervalMs ?? 500,
      schedule: options.schedule ?? DEFAULT_SCHEDULE,
    };
    this.#now = options.now ?? Date.now;
    this.#logger = (options.logger ?? silentLogger).with({ db: db.path });
    this.#states = replicas.map((replica, i) => ({
      replica,
      maintenance: new ReplicaMaintenance(replica.store, {
        schedule: this.#o.schedule,
        scratchDir: db.scratchDir,
        openLocal: (file) => db.local.openCopy(file),
        yieldTo: () => this.#urgent ?? Promise.resolve(),
        mirror: LocalMirror.of(db.local.root, replica.store),
        now: this.#now,
        logger: this.#logger.with({ replica: replica.name }),
      }),
      nextAttemptAt: 0,
      failures: 0,
      maintenanceRetryAt: 0,
      maintenanceFailures: 0,
      syncIntervalMs: options.replicaSyncIntervalsMs?.[i] ?? this.#o.syncIntervalMs,
      shipping: null,
    }));
  }

  /** Per replica maintenance, for status and tests. */
  get maintenance(): ReplicaMaintenance[] {
    return this.#states.map((s) => s.maintenance);
  }

  get replicas(): Replica[] {
    return this.#states.map((s) => s.replica);
  }

  /** Reads replica positions (a replica ahead of the database forces a snapshot above it), then runs. */
  async start(): Promise<void> {
    await this.#readPositions();
    // Ticks keep a fixed cadence, so the time a cycle takes does not stretch the interval.
    const period = this.#o.monitorIntervalMs;
    let due = Date.now();
    let skipped = 0;
    const tick = async () => {
      if (this.#stopping) return;
      if (this.#canSkipTick()) {
        skipped++;
      } else {
        skipped = 0;
        this.#running = this.#cycle();
        await this.#running;
        this.#running = null;
      }
      if (this.#stopping) return;
      if (skipped >= DOZE_AFTER_SKIPPED_TICKS && this.#doze(tick)) return;
      due = Math.max(due + period, Date.now());
      this.#timer = setTimeout(tick, Math.max(0, due - Date.now()));
    };
    await tick();
  }

  /**
   * Waits for the WAL to change (inotify, through Deno.watchFs) instead of ticking, then calls `wake`;
   * also wakes every DOZE_WAKE_MS for what comes due by time. Each timer wake costs a Deno process
   * ~0.6 ms of CPU here, most of what an idle replicator spends; a watch costs nothing until a write.
   * A commit then ships at once rather than at the next tick. False when the WAL cannot be watched.
   */
  #doze(wake: () => void): boolean {
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(this.db.path + "-wal", { recursive: false });
    } catch {
      return false;
    }
    const end = () => {
      if (this.#endDoze !== end) return;
      this.#endDoze = null;
      clearTimeout(this.#timer);
      try {
        watcher.close();
      } catch {
        // already closed
      }
    };
    const endAndWake = () => {
      if (this.#endDoze !== end) return;
      end();
      wake();
    };
    this.#endDoze = end;
    this.#timer = setTimeout(endAndWake, Math.max(DOZE_WAKE_MS, this.#o.monitorIntervalMs));
    (async () => {
      try {
        for await (const event of watcher) {
          if (event.kind !== "access") break;
        }
      } catch {
        // a failing watch ends the doze like an event
      }
      endAndWake();
    })();
    // A commit between the last reading and the watch starting sent no event: look once more.
    if (!sameReading(this.db.walReading(), this.#lastReading)) endAndWake();
    return true;
  }

  /**
   * Whether this tick has nothing to do: no commit since the last full cycle began (same probe reading),
   * every replica holds the newest file and nothing failed, no maintenance, snapshot or checkpoint is
   * due. An idle database then costs a stat and a 48-byte read per tick instead of a cycle's listings.
   */
  #canSkipTick(): boolean {
    const reading = this.db.walReading();
    const now = this.#now();
    const wallClock = Date.now();
    const skip = sameReading(reading, this.#lastReading) &&
      wallClock - this.#lastFullCycleAt < FULL_CYCLE_AT_LEAST_EVERY_MS &&
      !this.#maintenanceWorked && this.#dbFailures === 0 && this.#maintaining === null &&
      this.#states.every((s) =>
        s.shipping === null && s.failures === 0 && s.maintenanceFailures === 0 &&
        s.replica.position !== null && s.replica.position >= this.db.txid && !s.maintenance.isDue()
      ) &&
      !this.#snapshotDue(now) && this.db.checkpointDueAt() > now;
    if (!skip) {
      this.#lastReading = reading;
      this.#lastFullCycleAt = wallClock;
      this.#maintenanceWorked = false;
    }
    return skip;
  }

  /** One WAL copy and one shipment to every replica, errors thrown: `replicate -once`. */
  async syncOnce(options: SyncOnceOptions = {}): Promise<void> {
    // Positions are read once; a replica whose position was forgotten after an error reads it again.
    if (this.#states.some((s) => s.replica.position === null)) await this.#readPositions(true);
    await this.db.sync();
    for (const state of this.#states) {
      if ((await state.replica.sync()).files > 0) state.maintenance.noteActivity();
    }
    if (options.forceSnapshot) await this.#snapshotTo(this.#states);
    else if (options.maintain) await this.#snapshotIfDue();
    for (const state of this.#states) {
      if (options.maintain) {
        await state.maintenance.runDue(undefined, { retention: options.enforceRetention ?? false });
      } else if (options.enforceRetention) {
        await state.maintenance.enforceRetention();
      }
    }
    await this.#pruneLocal(options.maintain ?? false);
    await this.db.checkpointIfNeeded();
  }

  /** Uploads one new L9 snapshot of the current position to each of `states`. */
  async #snapshotTo(states: ReplicaState[], signal?: AbortSignal): Promise<LtxFileInfo | null> {
    const snapshot = await this.db.snapshot();
    if (!snapshot) return null;
    try {
      for (const state of states) {
        await state.replica.upload(snapshot, signal);
        state.maintenance.noteSnapshot();
      }
    } finally {
      await this.db.discardSnapshot(snapshot);
    }
    this.#logger.info("snapshot", { txid: formatTxid(snapshot.maxTxid), bytes: snapshot.sizeBytes });
    return snapshot;
  }

  /** Stops the loop, copies and ships what is left (retrying until the shutdown timeout), closes the database. */
  async stop(signal?: AbortSignal): Promise<boolean> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#endDoze?.();
    this.#maintenanceAbort.abort();
    await this.#running;
    await this.#maintaining;
    const deadline = Date.now() + this.#o.shutdownSyncTimeoutMs;
    // Shipments under way may finish within the shutdown budget; then they are cut short.
    await settleWithin(this.#shipments(), deadline - Date.now(), signal);
    this.#shipAbort.abort();
    await this.#shipments();
    let clean = false;
    try {
      await this.db.sync();
      for (let attempt = 0;; attempt++) {
        const failed: string[] = [];
        for (const { replica } of this.#states) {
          try {
            await replica.sync(signal);
          } catch (err) {
            failed.push(`${replica.name}: ${errorMessage(err)}`);
          }
        }
        if (failed.length === 0) {
          clean = true;
          break;
        }
        if (Date.now() >= deadline || signal?.aborted) {
          this.#logger.error("final sync incomplete", { error: failed.join("; ") });
          break;
        }
        await sleep(Math.min(this.#o.shutdownSyncIntervalMs * 2 ** attempt, 5000), signal);
      }
      await this.#pruneLocal();
    } finally {
      await this.db.close();
    }
    return clean;
  }

  async #readPositions(throwErrors = false): Promise<void> {
    let max = 0n;
    for (const state of this.#states) {
      try {
        const position = await state.replica.readPosition();
        if (position > max) max = position;
      } catch (err) {
        if (throwErrors) throw err;
        this.#fail(state, err);
      }
    }
    if (max > this.db.txid) {
      this.#logger.warn("replica is ahead of the local state; the next file will be a snapshot");
      this.db.ensureTxidAbove(max);
    }
  }

  async #cycle(): Promise<void> {
    const urgent = Promise.withResolvers<void>();
    this.#urgent = urgent.promise;
    try {
      await this.#copyAndShip();
    } finally {
      this.#urgent = null;
      urgent.resolve();
    }
    await this.db.checkpointIfNeeded().catch((err) =>
      this.#logger.warn("checkpoint failed", { error: errorMessage(err) })
    );
    // A checkpoint copies the WAL to its end first: the commits since this cycle's copy go now, not a tick
    // later (they are the oldest unshipped ones, so they would set the lag).
    this.#startShipments((state) => state.replica.position !== null && state.replica.position < this.db.txid);
    // Compaction and snapshots run beside the loop, so a long merge never delays shipping.
    if (!this.#maintaining && !this.#stopping) {
      this.#maintaining = this.#maintain(this.#maintenanceAbort.signal).finally(() => {
        this.#maintaining = null;
      });
    }
  }

  /**
   * The part of a cycle a commit's lag depends on: the WAL copy, the shipments it starts (waited for up
   * to half an interval) and local pruning. Compaction waits meanwhile (yieldTo), and the checkpoint
   * runs after it: each holds the thread while it works, stalling the shipments' I/O.
   */
  async #copyAndShip(): Promise<void> {
    const now = Date.now();
    if (now >= this.#dbNextAttemptAt) {
      try {
        await this.db.sync();
        if (this.#dbFailures > 0) this.#logger.info("sync recovered");
        this.#dbFailures = 0;
      } catch (err) {
        this.#dbFailures++;
        this.#dbNextAttemptAt = now + this.#backoff(this.#dbFailures);
        this.lastError = errorMessage(err);
        this.#logger.error("sync failed", { error: this.lastError });
      }
    }
    this.#startShipments();
    await this.#pruneLocal().catch((err) =>
      this.#logger.warn("local cleanup failed", { error: errorMessage(err) })
    );
    await settleWithin(this.#shipments(), this.#o.monitorIntervalMs / 2);
  }

  /** Starts a shipment to each replica that is not shipping or waiting out a failure (and `wanted`). */
  #startShipments(wanted: (state: ReplicaState) => boolean = () => true): void {
    for (const state of this.#states) {
      if (state.shipping || Date.now() < state.nextAttemptAt || !wanted(state)) continue;
      state.shipping = this.#ship(state).finally(() => (state.shipping = null));
    }
  }

  async #ship(state: ReplicaState): Promise<void> {
    const signal = this.#shipAbort.signal;
    try {
      if ((await state.replica.sync(signal)).files > 0) state.maintenance.noteActivity();
      if (state.failures > 0) this.#logger.info("replica recovered", { replica: state.replica.name });
      state.failures = 0;
      state.nextAttemptAt = Date.now() + state.syncIntervalMs - this.#o.monitorIntervalMs;
    } catch (err) {
      if (!signal.aborted) this.#fail(state, err);
    }
  }

  #shipments(): Promise<unknown> {
    return Promise.all(this.#states.map((s) => s.shipping));
  }

  /** Waits for background maintenance and shipments started by the loop (tests step a fake clock with this). */
  async idle(): Promise<void> {
    await this.#running;
    await this.#maintaining;
    await this.#shipments();
  }

  async #maintain(signal: AbortSignal): Promise<void> {
    try {
      await this.#snapshotIfDue(signal);
    } catch (err) {
      if (!signal.aborted) this.#logger.error("snapshot failed", { error: errorMessage(err) });
    }
    for (const state of this.#states) {
      if (signal.aborted) return;
      if (this.#now() < state.maintenanceRetryAt) continue;
      try {
        const { compacted, removed } = await state.maintenance.runDue(signal);
        if (compacted.length > 0 || removed.length > 0) this.#maintenanceWorked = true;
        state.maintenanceFailures = 0;
      } catch (err) {
        if (signal.aborted) return;
        state.maintenanceFailures++;
        state.maintenanceRetryAt = this.#now() + this.#backoff(state.maintenanceFailures);
        if (state.maintenanceFailures === 1 || state.maintenanceFailures % 10 === 0) {
          this.#logger.error("compaction or retention failed", {
            replica: state.replica.name,
            error: errorMessage(err),
          });
        }
      }
    }
  }

  /**
   * At each snapshot boundary (and once at start), a replica whose newest snapshot predates the boundary
   * and is behind the database gets a new one. With no snapshot at all, the first comes at a boundary.
   */
  async #snapshotIfDue(signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    const boundary = alignDown(now, this.#o.schedule.snapshotIntervalMs);
    const atStart = this.#snapshotBoundary === null;
    if (!this.#snapshotDue(now)) return;
    const due: ReplicaState[] = [];
    for (const state of this.#states) {
      const newest = (await state.replica.store.list(SNAPSHOT_LEVEL, signal)).at(-1);
      if (newest && newest.maxTxid >= this.db.txid) continue;
      if (newest ? newest.createdAt <= boundary : !atStart) due.push(state);
    }
    this.#snapshotBoundary = boundary;
    if (due.length > 0) await this.#snapshotTo(due, signal);
  }

  #snapshotDue(now: number): boolean {
    const boundary = this.#snapshotBoundary;
    return boundary === null || alignDown(now, this.#o.schedule.snapshotIntervalMs) > boundary;
  }

  #fail(state: ReplicaState, err: unknown): void {
    state.failures++;
    state.nextAttemptAt = Date.now() + this.#backoff(state.failures, state.syncIntervalMs);
    this.lastError = errorMessage(err);
    // Log the first failure and then every tenth, so a long outage does not flood the log.
    if (state.failures === 1 || state.failures % 10 === 0) {
      this.#logger.error("replica sync failed", { replica: state.replica.name, error: this.lastError });
    }
  }

  #backoff(failures: number, baseMs = this.#o.syncIntervalMs): number {
    return Math.min(baseMs * 2 ** (failures - 1), this.#o.maxBackoffMs);
  }

  /**
   * Removes local L0 files every replica holds (and, when this process compacts, has compacted into
   * L1, so compaction reads them locally), keeping the newest: it is the replication position.
   */
  async #pruneLocal(compacting = true): Promise<void> {
    let min: bigint | null = null;
    for (const { replica, maintenance } of this.#states) {
      let held = replica.position;
      if (compacting && maintenance.compactsL0) {
        const l1 = maintenance.l1MaxTxid;
        held = held === null || l1 === null ? null : (l1 < held ? l1 : held);
      }
      if (held === null) return;
      if (min === null || held < min) min = held;
    }
    if (min === null) return;
    const files = await this.db.local.list(0);
    const removable = files.slice(0, -1).filter((f) => f.maxTxid <= min!);
    if (removable.length > 0) await this.db.local.remove(removable);
  }
}

/** Waits for `work`, but no longer than `ms` or until `signal` fires. */
async function settleWithin(work: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([
      work,
      sleep(Math.max(0, ms), signal ? AbortSignal.any([signal, done.signal]) : done.signal),
    ]);
  } finally {
    done.abort();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
