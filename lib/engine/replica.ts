/**
 * Ships one database's local LTX files to one replica store, in TXID order, and knows how far the
 * replica has got. A replica that is missing the start of the chain gets a full L9 snapshot first.
 */
import { formatTxid } from "../ltx/txid.ts";
import { type LtxFileInfo, type ReplicaStore, SNAPSHOT_LEVEL } from "../storage/store.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import type { Database } from "./database.ts";
import { openLazily } from "../util/streams.ts";

/** Levels a replica position is read from: L0, the compaction levels and the snapshot level. */
const POSITION_LEVELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, SNAPSHOT_LEVEL];

export interface ReplicaOptions {
  /** Printable name for logs and status. @default store.describe() */
  name?: string;
  logger?: Logger;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

export interface ShipStats {
  files: number;
  bytes: number;
}

export class Replica {
  readonly store: ReplicaStore;
  readonly name: string;
  #db: Database;
  #logger: Logger;
  #now: () => number;
  #position: bigint | null = null;
  /** Seconds between an L0 file's creation and its arrival in the replica, for the last file shipped. */
  lastLagMs = 0;
  shippedFiles = 0;
  shippedBytes = 0;

  constructor(db: Database, store: ReplicaStore, options: ReplicaOptions = {}) {
    this.#db = db;
    this.store = store;
    this.name = options.name ?? store.describe();
    this.#logger = (options.logger ?? silentLogger).with({ replica: this.name });
    this.#now = options.now ?? Date.now;
  }

  /** The newest TXID the replica holds, or null before it was read. */
  get position(): bigint | null {
    return this.#position;
  }

  /** Reads the replica's position from its listing (any level). */
  async readPosition(signal?: AbortSignal): Promise<bigint> {
    let max = 0n;
    for (const level of POSITION_LEVELS) {
      const files = await this.store.list(level, signal);
      const last = files.reduce((m, f) => (f.maxTxid > m ? f.maxTxid : m), 0n);
      if (last > max) max = last;
    }
    this.#position = max;
    return max;
  }

  /** Uploads every local L0 file the replica lacks. On error the position is forgotten and re-read next time. */
  async sync(signal?: AbortSignal): Promise<ShipStats> {
    const stats: ShipStats = { files: 0, bytes: 0 };
    try {
      let position = this.#position ?? await this.readPosition(signal);
      let pending = (await this.#db.local.list(0)).filter((f) => f.maxTxid > position);
      if (pending.length === 0) return stats;
      if (pending[0]!.minTxid > position + 1n) {
        position = await this.#shipSnapshot(position, stats, signal);
        pending = (await this.#db.local.list(0)).filter((f) => f.maxTxid > position);
      }
      for (const file of pending) {
        signal?.throwIfAborted();
        await this.upload(file, signal, stats);
        this.#position = file.maxTxid;
      }
      return stats;
    } catch (err) {
      this.#position = null;
      throw err;
    }
  }

  /** The chain in the replica cannot continue from local files: start it again from a full snapshot. */
  async #shipSnapshot(position: bigint, stats: ShipStats, signal?: AbortSignal): Promise<bigint> {
    const snapshot = await this.#db.snapshot();
    if (!snapshot) return position;
    this.#logger.info("replica needs a snapshot", {
      replicaTxid: formatTxid(position),
      snapshotTxid: formatTxid(snapshot.maxTxid),
    });
    try {
      await this.upload(snapshot, signal, stats);
    } finally {
      await this.#db.discardSnapshot(snapshot);
    }
    this.#position = snapshot.maxTxid;
    return snapshot.maxTxid;
  }

  /** Uploads one local file as it is: an L0 file, or a snapshot from its scratch `path`. */
  async upload(
    file: LtxFileInfo & { path?: string },
    signal?: AbortSignal,
    stats: ShipStats = { files: 0, bytes: 0 },
  ): Promise<void> {
    const local = this.#db.local;
    const path = file.path;
    const openFile = path === undefined
      ? () => local.open(file)
      : async () => (await Deno.open(path, { read: true })).readable;
    const ref = {
      level: file.level,
      minTxid: file.minTxid,
      maxTxid: file.maxTxid,
      createdAt: file.createdAt,
    };
    await this.store.write(
      ref,
      { sizeBytes: file.sizeBytes, localPath: path ?? local.pathOf(file), open: () => openLazily(openFile) },
      signal,
    );
    stats.files++;
    stats.bytes += file.sizeBytes;
    this.shippedFiles++;
    this.shippedBytes += file.sizeBytes;
    this.lastLagMs = Math.max(0, this.#now() - file.createdAt);
    this.#logger.debug("shipped", {
      level: file.level,
      txid: formatTxid(file.maxTxid),
      bytes: file.sizeBytes,
    });
  }
}
