/**
 * Runs every configured database at once, one DatabaseRunner (and Replicator) per database file, so a
 * failing database or replica never stops the others:
 * - A database that cannot start is logged and retried with backoff (1 s doubling to 1 min). Only when
 *   no database could start and none is awaited does start() fail: a typo then fails at once.
 * - With `waitForMissing`, a database file that does not exist yet is awaited, checked every monitor
 *   interval (the application creates it later).
 * - Directory entries replicate every SQLite file in `dir` matching `pattern`, each under its own replica
 *   path (resolveDatabase); with `watch` new files are picked up and removed ones stopped.
 * - stop() gives every database its final sync, within the shutdown timeout, at the same time.
 */
import type { DatabaseConfig } from "../config/config.ts";
import type { ReplicaSpec } from "../config/replica_url.ts";
import { resolveDatabase, type ResolvedDatabase } from "../config/resolve.ts";
import { openReplicaStore } from "../storage/open.ts";
import type { ReplicaStore } from "../storage/store.ts";
import { errorMessage, WalshipError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { DatabaseOptions } from "./database.ts";
import { DatabaseRunner, type DatabaseStats, MissingDatabaseError } from "./database_runner.ts";
import { scanDirectory } from "./directory_scan.ts";
import { type DirectoryWatch, watchDirectory } from "./directory_watch.ts";
import type { SyncOnceOptions } from "./replicator.ts";
import type { MaintenanceSchedule } from "./schedule.ts";

export type { DatabaseStats, ReplicaStats } from "./database_runner.ts";

export interface SupervisorOptions {
  schedule: MaintenanceSchedule;
  /** @default 30000 */
  shutdownSyncTimeoutMs?: number;
  /** @default 500 */
  shutdownSyncIntervalMs?: number;
  logger: Logger;
  /** Await database files that do not exist yet instead of counting them as failures. @default false */
  waitForMissing?: boolean;
  /** Restore every missing `path:` database before starting it (each entry's own key also counts). @default false */
  restoreIfMissing?: boolean;
  /** Overrides every database's monitor interval (a flag). */
  monitorIntervalMs?: number;
  /** Overrides every replica's sync interval (a flag). */
  syncIntervalMs?: number;
  /** Engine options of one database file. @default its meta path only */
  databaseOptions?: (target: ResolvedDatabase) => DatabaseOptions;
  /** @default openReplicaStore */
  openStore?: (spec: ReplicaSpec) => ReplicaStore;
  /** Longest wait between attempts to start a failing database. @default 60000 */
  maxRetryDelayMs?: number;
}

interface Entry {
  runner: DatabaseRunner;
  /** The config entry the file belongs to. */
  source: DatabaseConfig;
  failures: number;
  awaited: boolean;
  timer?: ReturnType<typeof setTimeout>;
  attempt: Promise<unknown> | null;
}

const START_CONCURRENCY = 8;

export class Supervisor {
  #dbs: readonly DatabaseConfig[];
  #o: SupervisorOptions;
  #logger: Logger;
  #entries = new Map<string, Entry>();
  #watches: DirectoryWatch[] = [];
  #stopping = false;

  constructor(dbs: readonly DatabaseConfig[], options: SupervisorOptions) {
    this.#dbs = dbs;
    this.#o = options;
    this.#logger = options.logger;
  }

  /** Starts every database; throws the first error when none could start and none is awaited. */
  async start(): Promise<void> {
    const found = await this.#expand();
    const entries = found.map(({ source, path }) => this.#add(source, path));
    const errors = new Map<Entry, unknown>();
    await forEachLimited(entries, START_CONCURRENCY, async (entry) => {
      const err = await this.#attempt(entry);
      if (err !== null) errors.set(entry, err);
    });
    const started = entries.filter((e) => e.runner.running).length;
    const awaiting = entries.some((e) => e.awaited) || this.#dbs.some((db) => db.watch);
    if (started === 0 && !awaiting && errors.size > 0) {
      await this.stop();
      // The first failing database in config order, whichever attempt finished first.
      throw errors.get(entries.find((e) => errors.has(e))!);
    }
    for (const db of this.#dbs) {
      if (db.dir === undefined || !db.watch) continue;
      const dir = db.dir;
      this.#watches.push(watchDirectory(dir, () => this.#rescan(db), {
        recursive: db.recursive,
        logger: this.#logger,
      }));
      this.#logger.info("watching directory", { dir, pattern: db.pattern });
    }
  }

  /** `replicate -once`: syncs every database once; every one is tried, then the failures are thrown. */
  async syncOnce(options: SyncOnceOptions): Promise<void> {
    const failures: { path: string; err: unknown }[] = [];
    for (const { source, path } of await this.#expand()) {
      const runner = this.#runner(source, path);
      try {
        await runner.syncOnce(options);
      } catch (err) {
        failures.push({ path, err });
      }
    }
    if (failures.length === 1) throw failures[0]!.err;
    if (failures.length > 1) {
      throw new WalshipError(
        `${failures.length} databases failed: ${
          failures.map((f) => `${f.path}: ${errorMessage(f.err)}`).join("; ")
        }`,
      );
    }
  }

  /** Stops watching and retrying, then gives every database its final sync. False when one was incomplete. */
  async stop(signal?: AbortSignal): Promise<boolean> {
    this.#stopping = true;
    await Promise.all(this.#watches.map((w) => w.close()));
    this.#watches = [];
    const entries = [...this.#entries.values()];
    for (const entry of entries) clearTimeout(entry.timer);
    await Promise.all(entries.map((e) => e.attempt));
    // A database that appeared since the last check (an -exec app that created it and exited at once)
    // still gets its data shipped.
    await Promise.all(entries.filter((e) => e.awaited && !e.runner.running).map((e) => this.#attempt(e)));
    const results = await Promise.all(entries.map((e) => e.runner.stop(signal)));
    return results.every(Boolean);
  }

  /** Figures for every database file, running or not, for the metrics endpoint. */
  stats(): Promise<DatabaseStats[]> {
    return Promise.all([...this.#entries.values()].map((e) => e.runner.stats()));
  }

  /** Every database file of the config: `path:` entries as they are, directories scanned. */
  async #expand(): Promise<{ source: DatabaseConfig; path: string }[]> {
    const found: { source: DatabaseConfig; path: string }[] = [];
    const seen = new Set<string>();
    for (const source of this.#dbs) {
      const paths = source.dir === undefined ? [source.path!] : await this.#scan(source);
      for (const path of paths) {
        // A file named by a path: entry and also found in a directory runs once, under the first.
        if (seen.has(path)) continue;
        seen.add(path);
        found.push({ source, path });
      }
    }
    return found;
  }

  async #scan(source: DatabaseConfig): Promise<string[]> {
    const dir = source.dir!;
    const paths = await scanDirectory(dir, { pattern: source.pattern!, recursive: source.recursive });
    if (paths.length === 0 && !source.watch) {
      throw new WalshipError(`No SQLite databases match "${source.pattern}" in "${dir}"`, {
        hint: "create one first, or set watch: true to pick databases up as they appear",
      });
    }
    return paths;
  }

  /** Starts new databases of a watched directory and stops the ones that are gone. */
  async #rescan(source: DatabaseConfig): Promise<void> {
    if (this.#stopping) return;
    const present = new Set(
      await scanDirectory(source.dir!, {
        pattern: source.pattern!,
        recursive: source.recursive,
        isKnown: (path) => this.#entries.has(path),
      }),
    );
    if (this.#stopping) return;
    for (const path of present) {
      if (this.#entries.has(path)) continue;
      this.#logger.info("new database in watched directory", { db: path });
      const entry = this.#add(source, path);
      entry.attempt = this.#attempt(entry).finally(() => (entry.attempt = null));
    }
    for (const [path, entry] of this.#entries) {
      if (entry.source !== source || present.has(path)) continue;
      this.#entries.delete(path);
      clearTimeout(entry.timer);
      await entry.attempt;
      await entry.runner.stop();
      this.#logger.info("database removed from watched directory; stopped replicating it", { db: path });
    }
  }

  #runner(source: DatabaseConfig, path: string): DatabaseRunner {
    const target = resolveDatabase(source, path);
    const syncIntervalMs = this.#o.syncIntervalMs;
    if (syncIntervalMs !== undefined) {
      target.replicas = target.replicas.map((r) => ({ ...r, syncIntervalMs }));
    }
    return new DatabaseRunner(target, {
      schedule: this.#o.schedule,
      shutdownSyncTimeoutMs: this.#o.shutdownSyncTimeoutMs ?? 30_000,
      shutdownSyncIntervalMs: this.#o.shutdownSyncIntervalMs ?? 500,
      restoreIfMissing: source.dir === undefined &&
        ((this.#o.restoreIfMissing ?? false) || source.restoreIfDbNotExists),
      databaseOptions: this.#o.databaseOptions?.(target) ?? { metaPath: target.metaPath },
      monitorIntervalMs: this.#monitorIntervalMs(source),
      openStore: this.#o.openStore ?? openReplicaStore,
      logger: this.#logger,
    });
  }

  #monitorIntervalMs(source: DatabaseConfig): number {
    return this.#o.monitorIntervalMs ?? source.monitorIntervalMs;
  }

  #add(source: DatabaseConfig, path: string): Entry {
    const entry: Entry = {
      runner: this.#runner(source, path),
      source,
      failures: 0,
      awaited: false,
      attempt: null,
    };
    this.#entries.set(path, entry);
    return entry;
  }

  /** One try at starting a database; on failure the next try is scheduled. Resolves to the error, or null. */
  async #attempt(entry: Entry): Promise<unknown> {
    entry.timer = undefined;
    try {
      await entry.runner.start();
      if (entry.failures > 0 || entry.awaited) {
        this.#logger.info("database started", { db: entry.runner.path });
      }
      entry.failures = 0;
      entry.awaited = false;
      return null;
    } catch (err) {
      if (this.#stopping || this.#entries.get(entry.runner.path) !== entry) return err;
      let delayMs: number;
      if (err instanceof MissingDatabaseError && this.#o.waitForMissing) {
        if (!entry.awaited) {
          this.#logger.warn("database does not exist yet; waiting for it", { db: entry.runner.path });
        }
        entry.awaited = true;
        delayMs = this.#monitorIntervalMs(entry.source);
      } else {
        entry.failures++;
        delayMs = Math.min(1000 * 2 ** (entry.failures - 1), this.#o.maxRetryDelayMs ?? 60_000);
        // The first failure and then every tenth, so a long outage does not flood the log.
        if (entry.failures === 1 || entry.failures % 10 === 0) {
          this.#logger.error("database cannot start; retrying", {
            db: entry.runner.path,
            error: errorMessage(err),
            retryMs: delayMs,
          });
        }
      }
      entry.timer = setTimeout(() => {
        entry.attempt = this.#attempt(entry).finally(() => (entry.attempt = null));
      }, delayMs);
      return err;
    }
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
