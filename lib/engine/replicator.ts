/**
 * Runs one database and its replicas: copies the WAL every monitor interval, ships to each replica every
 * sync interval with its own backoff, prunes local files every replica has, and syncs once more on stop.
 */
import { errorMessage } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import type { Database } from "./database.ts";
import type { Replica } from "./replica.ts";

export interface ReplicatorOptions {
  /** How often the WAL is read. @default 1000 */
  monitorIntervalMs?: number;
  /** How often new files are shipped to each replica. @default 1000 */
  syncIntervalMs?: number;
  /** Longest wait between attempts after repeated errors. @default 30000 */
  maxBackoffMs?: number;
  /** Time the final sync on shutdown may take, retries included. @default 30000 */
  shutdownSyncTimeoutMs?: number;
  logger?: Logger;
}

interface ReplicaState {
  replica: Replica;
  nextAttemptAt: number;
  failures: number;
}

export class Replicator {
  readonly db: Database;
  #states: ReplicaState[];
  #o: Required<Omit<ReplicatorOptions, "logger">>;
  #logger: Logger;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #stopping = false;
  #dbFailures = 0;
  #dbNextAttemptAt = 0;
  lastError: string | null = null;

  constructor(db: Database, replicas: Replica[], options: ReplicatorOptions = {}) {
    this.db = db;
    this.#states = replicas.map((replica) => ({ replica, nextAttemptAt: 0, failures: 0 }));
    this.#o = {
      monitorIntervalMs: options.monitorIntervalMs ?? 1000,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      shutdownSyncTimeoutMs: options.shutdownSyncTimeoutMs ?? 30_000,
    };
    this.#logger = (options.logger ?? silentLogger).with({ db: db.path });
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
    const tick = async () => {
      if (this.#stopping) return;
      this.#running = this.#cycle();
      await this.#running;
      this.#running = null;
      due = Math.max(due + period, Date.now());
      if (!this.#stopping) this.#timer = setTimeout(tick, due - Date.now());
    };
    await tick();
  }

  /**
   * One WAL copy and one shipment to every replica, errors thrown: `replicate -once`. With
   * `forceSnapshot`, every replica also gets a full L9 snapshot of the current position.
   */
  async syncOnce(options: { forceSnapshot?: boolean } = {}): Promise<void> {
    await this.#readPositions(true);
    await this.db.sync();
    for (const state of this.#states) await state.replica.sync();
    if (options.forceSnapshot) {
      const snapshot = await this.db.snapshot();
      if (snapshot) {
        for (const state of this.#states) await state.replica.upload(snapshot);
        await this.db.local.remove([snapshot]);
      }
    }
    await this.#pruneLocal();
    await this.db.checkpointIfNeeded();
  }

  /** Stops the loop, copies and ships what is left (retrying until the shutdown timeout), closes the database. */
  async stop(signal?: AbortSignal): Promise<boolean> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#running;
    const deadline = Date.now() + this.#o.shutdownSyncTimeoutMs;
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
        await sleep(Math.min(500 * 2 ** attempt, 5000), signal);
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
    for (const state of this.#states) {
      if (Date.now() < state.nextAttemptAt) continue;
      try {
        await state.replica.sync();
        if (state.failures > 0) this.#logger.info("replica recovered", { replica: state.replica.name });
        state.failures = 0;
        state.nextAttemptAt = Date.now() + this.#o.syncIntervalMs - this.#o.monitorIntervalMs;
      } catch (err) {
        this.#fail(state, err);
      }
    }
    await this.#pruneLocal().catch((err) =>
      this.#logger.warn("local cleanup failed", { error: errorMessage(err) })
    );
    await this.db.checkpointIfNeeded().catch((err) =>
      this.#logger.warn("checkpoint failed", { error: errorMessage(err) })
    );
  }

  #fail(state: ReplicaState, err: unknown): void {
    state.failures++;
    state.nextAttemptAt = Date.now() + this.#backoff(state.failures);
    this.lastError = errorMessage(err);
    // Log the first failure and then every tenth, so a long outage does not flood the log.
    if (state.failures === 1 || state.failures % 10 === 0) {
      this.#logger.error("replica sync failed", { replica: state.replica.name, error: this.lastError });
    }
  }

  #backoff(failures: number): number {
    return Math.min(this.#o.syncIntervalMs * 2 ** (failures - 1), this.#o.maxBackoffMs);
  }

  /** Removes local L0 files every replica holds, keeping the newest: it is the replication position. */
  async #pruneLocal(): Promise<void> {
    let min: bigint | null = null;
    for (const { replica } of this.#states) {
      if (replica.position === null) return;
      if (min === null || replica.position < min) min = replica.position;
    }
    if (min === null) return;
    const files = await this.db.local.list(0);
    const removable = files.slice(0, -1).filter((f) => f.maxTxid <= min!);
    if (removable.length > 0) await this.db.local.remove(removable);
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
