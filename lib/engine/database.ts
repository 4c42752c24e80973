/**
 * Owns one SQLite database: its connections and read lock, the WAL reader, checkpoints, the local LTX
 * files and the replication position. Every committed transaction in the WAL becomes part of exactly one
 * L0 file; when continuity cannot be proven, the next L0 file is a full snapshot instead.
 */
import { basename, join } from "node:path";
import { LtxEncoder } from "../ltx/encoder.ts";
import { lockPgno, type LtxHeader, noChecksumHeader } from "../ltx/header.ts";
import { ltxFileName } from "../ltx/txid.ts";
import { isSqliteHeader } from "../sqlite/mod.ts";
import { readFrameHeaderAt, readWalHeader, walFrameSize, type WalHeader } from "../sqlite/mod.ts";
import { readPageMap } from "../sqlite/mod.ts";
import { SNAPSHOT_LEVEL } from "../storage/store.ts";
import type { LtxFileInfo } from "../storage/store.ts";
import { WalshipError } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { Mutex } from "../util/mutex.ts";
import { removeIfExists } from "../util/fs.ts";
import { DatabaseFile } from "./database_file.ts";
import { defaultMetaPath, LocalStore, writeLocalFile } from "./local_store.ts";
import { findPageInLtx, PageReadBuffers, PageSource } from "./page_source.ts";
import { StateLock } from "./state_lock.ts";
import { ScratchSpace } from "./scratch.ts";
import { decideSyncStart, type LastFrame } from "./wal_position.ts";
import { WalControl } from "./wal_control.ts";
import { WalProbe } from "./wal_probe.ts";

export interface DatabaseOptions {
  /** Local state directory. @default `.<dbfile>-walship` beside the database */
  metaPath?: string;
  /** Time-based PASSIVE checkpoint; 0 disables. @default 60000 */
  checkpointIntervalMs?: number;
  /** PASSIVE checkpoint once the WAL holds this many frames. @default 1000 */
  minCheckpointPageCount?: number;
  /** Emergency TRUNCATE checkpoint once the WAL holds this many frames. @default 121359 */
  truncatePageCount?: number;
  /** Busy timeout of walship's connections. @default 1000 */
  busyTimeoutMs?: number;
  /** WAL bytes read per L0 file while catching up; cut at commit boundaries. @default 64 MiB */
  maxSyncWalBytes?: number;
  logger?: Logger;
  /** Clock in ms, injectable for tests. @default Date.now */
  now?: () => number;
  /** Test seam: runs after the WAL frames of an incremental L0 are mapped, before they are read. */
  afterWalMapped?: () => void;
}

/** A full L9 snapshot written locally, in the scratch directory, on its way to replicas. */
export interface LocalSnapshot extends LtxFileInfo {
  path: string;
}

/** One step of copying the WAL: the file written, whether more is left, whether to read again. */
interface SyncStep {
  file: LtxFileInfo | null;
  limited: boolean;
  walRewritten?: boolean;
}

export interface SyncResult {
  /** L0 files written by this call, oldest first. */
  files: LtxFileInfo[];
}

/** Reads of a WAL that restarts under them before giving up (each restart needs a full checkpoint). */
const MAX_WAL_REREADS = 5;

const DEFAULTS = {
  checkpointIntervalMs: 60_000,
  minCheckpointPageCount: 1000,
  truncatePageCount: 121359,
  busyTimeoutMs: 1000,
  maxSyncWalBytes: 64 * 1024 * 1024,
};

export class Database {
  readonly path: string;
  readonly local: LocalStore;
  #options: typeof DEFAULTS;
  #afterWalMapped: () => void;
  #logger: Logger;
  #now: () => number;
  #dbFile: DatabaseFile;
  #control: WalControl;
  #mutex = new Mutex();
  #stateLock!: StateLock;
  #scratch!: ScratchSpace;
  #snapshotSeq = 0;
  #pageSize: number;
  #position: LtxHeader | null = null;
  #continuous = false;
  #lastFrame: LastFrame | null = null;
  #snapshotReason: string | null = null;
  /** Floor for the next TXID, raised when a replica is ahead of the local state. */
  #minNextTxid = 1n;
  #lastCheckpointAt: number;
  #checkpointedThrough = -1;
  #closed = false;
  #readBuffers = new PageReadBuffers();
  #probe: WalProbe;

  private constructor(path: string, dbFile: DatabaseFile, control: WalControl, options: DatabaseOptions) {
    this.path = path;
    this.#dbFile = dbFile;
    this.#control = control;
    this.#options = { ...DEFAULTS, ...definedOnly(options) };
    this.#afterWalMapped = options.afterWalMapped ?? (() => {});
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#lastCheckpointAt = this.#now();
    this.#pageSize = control.pageSize();
    this.local = new LocalStore(options.metaPath ?? defaultMetaPath(path));
    this.#probe = new WalProbe(path);
  }

  /** Opens a database for replication: checks it, switches it to WAL mode, takes the read lock. */
  static async open(path: string, options: DatabaseOptions = {}): Promise<Database> {
    let dbFile: DatabaseFile;
    try {
      dbFile = DatabaseFile.open(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new WalshipError(`Database "${path}" does not exist`, {
          hint: "check the path, or create it first",
        });
      }
      throw new WalshipError(`Cannot open database "${path}": ${(err as Error).message}`, { cause: err });
    }
    let control: WalControl | undefined;
    try {
      if (dbFile.isDirectory()) throw new WalshipError(`"${path}" is a directory, not a database`);
      const head = dbFile.read(0, 100);
      if (head.length > 0 && !isSqliteHeader(head)) {
        throw new WalshipError(`"${path}" is not a SQLite database`);
      }
      control = WalControl.open(path, {
        busyTimeoutMs: options.busyTimeoutMs,
        logger: options.logger ?? silentLogger,
      });
      const db = new Database(path, dbFile, control, options);
      db.#stateLock = await StateLock.open(db.local.root);
      try {
        await db.#stateLock.hold(async () => {
          await db.local.removeLeftovers();
          await db.#loadPosition();
        });
        db.#scratch = await ScratchSpace.create(join(db.local.root, "tmp"));
      } catch (err) {
        db.#stateLock.close();
        throw err;
      }
      return db;
    } catch (err) {
      control?.close();
      dbFile.close();
      throw err;
    }
  }

  /** The TXID of the newest local L0 file (0 before the first sync). */
  get txid(): bigint {
    return this.#position?.maxTxid ?? 0n;
  }

  /** This process's directory for files on their way to replicas. */
  get scratchDir(): string {
    return this.#scratch.dir;
  }

  get pageSize(): number {
    return this.#pageSize;
  }

  /** Makes the next L0 file a full snapshot with a TXID above `txid` (the replica is ahead of us). */
  ensureTxidAbove(txid: bigint): void {
    if (txid < this.txid) return;
    this.#minNextTxid = txid + 1n;
    this.#snapshotReason = "replica ahead of local state";
  }

  /**
   * A cheap reading of the WAL's state (see WalProbe): equal readings mean nothing committed in
   * between. Null when none can be taken; null never equals a reading.
   */
  walReading(): Uint8Array | null {
    return this.#closed ? null : this.#probe.read();
  }

  /** Copies every new committed transaction into L0 files. */
  sync(): Promise<SyncResult> {
    return this.#exclusive(async () => ({ files: await this.#syncToEnd() }));
  }

  /**
   * Checkpoints if the policy says so (PASSIVE by size or time, TRUNCATE past the emergency size).
   * Separate from sync so the replicator can ship first: checkpoint I/O stays off the lag path.
   */
  checkpointIfNeeded(): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#closed) return;
      await this.#checkpointIfNeeded();
    });
  }

  /**
   * Runs one step alone, in this process (mutex) and among processes sharing the state directory
   * (state lock). Another process (a `snapshot` beside a `replicate`) may have written L0 files since
   * the last step: continue after them, with the checks a restart gets.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(() =>
      this.#stateLock.hold(async () => {
        if (!this.#closed) await this.#followOtherWriters();
        return await fn();
      })
    );
  }

  async #followOtherWriters(): Promise<void> {
    const last = (await this.local.list(0)).at(-1);
    if (!last || last.maxTxid <= this.txid) return;
    this.#logger.debug("local state advanced by another process", { txid: last.maxTxid.toString(16) });
    await this.#loadPosition();
    this.#continuous = false;
    this.#lastFrame = null;
  }

  /**
   * Writes a full snapshot at the current position, L9 `1-<txid>`, to a file of its own in the scratch
   * directory (two processes may snapshot the same TXID) and returns it; `discardSnapshot` removes it.
   */
  snapshot(): Promise<LocalSnapshot | null> {
    return this.#exclusive(async () => {
      for (let attempt = 1;; attempt++) {
        await this.#syncToEnd();
        const position = this.#position;
        if (!position) return null;
        const snapshot = await this.#writeSnapshot(position);
        if (snapshot) return snapshot;
        if (attempt >= MAX_WAL_REREADS) throw this.#walKeptChanging();
      }
    });
  }

  /** The snapshot file of `position`, or null when the WAL restarted while it was read (try again). */
  async #writeSnapshot(position: LtxHeader): Promise<LocalSnapshot | null> {
    const wal = await openIfExists(this.path + "-wal");
    try {
      const header = wal ? await readWalHeader(wal) : null;
      const end = position.walOffset + position.walSize;
      const sameGeneration = header && header.salt1 === position.walSalt1 &&
        header.salt2 === position.walSalt2;
      // Frames up to the position's end of this generation; older generations are in the database file.
      const map = sameGeneration && wal && end > 32
        ? await readPageMap(wal, header, { offset: 32, maxBytes: end - 32 })
        : null;
      const snapshotHeader = noChecksumHeader({
        pageSize: this.#pageSize,
        commit: position.commit,
        minTxid: 1n,
        maxTxid: position.maxTxid,
        timestamp: this.#now(),
      });
      const source = new PageSource(this.#dbFile, wal, map?.pages, this.#pageSize, this.#readBuffers);
      // Unique: the loop and a replica being re-seeded may snapshot the same TXID at once.
      const path = join(
        this.#scratch.dir,
        `snapshot-${ltxFileName(1n, position.maxTxid)}.${++this.#snapshotSeq}`,
      );
      const file = await this.#writeFile(
        path,
        SNAPSHOT_LEVEL,
        snapshotHeader,
        allPages(position.commit, this.#pageSize),
        source,
      );
      if (map && !(await this.#walUnchanged(wal, header))) {
        await removeIfExists(path);
        return null;
      }
      return { ...file, path };
    } finally {
      wal?.close();
    }
  }

  async discardSnapshot(snapshot: LocalSnapshot): Promise<void> {
    await removeIfExists(snapshot.path);
  }

  /** Releases the read lock and closes SQLite, then the database descriptor (in that order: see open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#mutex.run(() => {
      this.#closed = true;
      try {
        this.#control.close();
      } finally {
        this.#probe.close();
        this.#dbFile.close();
        this.#stateLock.close();
      }
      return this.#scratch.close();
    });
  }

  async #loadPosition(): Promise<void> {
    const files = await this.local.list(0);
    const last = files.at(-1);
    if (!last) return;
    this.#position = await this.local.readHeader(0, last.minTxid, last.maxTxid);
  }

  async #syncToEnd(): Promise<LtxFileInfo[]> {
    const files: LtxFileInfo[] = [];
    for (let rewritten = 0;;) {
      const { file, limited, walRewritten } = await this.#syncOnce();
      if (file) files.push(file);
      if (walRewritten) {
        if (++rewritten >= MAX_WAL_REREADS) {
          throw this.#walKeptChanging();
        }
        continue;
      }
      if (!limited) return files;
    }
  }

  #walKeptChanging(): WalshipError {
    return new WalshipError(`The WAL of "${this.path}" kept being rewritten while read`);
  }

  /**
   * Whether the WAL still holds the generation `header` describes. SQLite rewrites the header before the
   * first frame of a new generation, so an unchanged header after reading means every frame read was the
   * one mapped. It matters at SQLite's read mark 0 (WAL fully checkpointed), which does not stop a writer
   * from restarting the WAL over frames walship is reading.
   */
  async #walUnchanged(wal: Deno.FsFile | null, header: WalHeader | null): Promise<boolean> {
    if (!wal || !header) return true;
    const now = await readWalHeader(wal);
    return now !== null && now.salt1 === header.salt1 && now.salt2 === header.salt2;
  }

  async #syncOnce(): Promise<SyncStep> {
    if (this.#closed) throw new WalshipError(`Database "${this.path}" is closed`);
    const wal = await openIfExists(this.path + "-wal");
    try {
      const walSizeBytes = wal ? (await wal.stat()).size : 0;
      const header = wal ? await readWalHeader(wal) : null;
      if (header && header.pageSize !== this.#pageSize) this.#pageSize = this.#control.pageSize();
      const position = this.#position;
      let start;
      if (this.#snapshotReason || !position) {
        start = { kind: "snapshot" as const, reason: this.#snapshotReason ?? "first sync" };
      } else {
        start = await decideSyncStart({
          wal,
          walSizeBytes,
          header,
          position,
          continuous: this.#continuous,
          lastFrame: this.#lastFrame,
          frameInPosition: (offset, frame) => findPageInLtx(this.local, position, wal!, offset, frame),
        });
      }
      if (this.#logger.enabled("debug")) {
        this.#logger.debug("sync start", {
          kind: start.kind,
          offset: start.kind === "incremental" ? start.offset : undefined,
          reason: start.kind === "snapshot" ? start.reason : undefined,
          walBytes: walSizeBytes,
          salt1: header?.salt1.toString(16),
        });
      }
      if (start.kind === "idle") return { file: null, limited: false };
      if (start.kind === "snapshot") {
        if (position) this.#logger.info("writing snapshot", { db: this.path, reason: start.reason });
        return await this.#writeSnapshotL0(wal, header);
      }
      return await this.#writeIncrementalL0(wal!, header!, start.offset, position!);
    } finally {
      wal?.close();
    }
  }

  async #writeSnapshotL0(wal: Deno.FsFile | null, header: WalHeader | null): Promise<SyncStep> {
    const map = wal && header ? await readPageMap(wal, header, { offset: 32 }) : null;
    const dbBytes = this.#dbFile.sizeBytes();
    const commit = map && map.commit > 0 ? map.commit : Math.floor(dbBytes / this.#pageSize);
    if (commit === 0) return { file: null, limited: false }; // an empty database has nothing to replicate yet
    const txid = this.#nextTxid();
    const ltxHeader = noChecksumHeader(
      { pageSize: this.#pageSize, commit, minTxid: txid, maxTxid: txid, timestamp: this.#now() },
      {
        walOffset: 32,
        walSize: map ? map.endOffset - 32 : 0,
        walSalt1: header?.salt1 ?? 0,
        walSalt2: header?.salt2 ?? 0,
      },
    );
    const source = new PageSource(this.#dbFile, wal, map?.pages, this.#pageSize, this.#readBuffers);
    const file = await this.#writeL0(ltxHeader, allPages(commit, this.#pageSize), source);
    if (!(await this.#walUnchanged(wal, header))) return await this.#discardL0(ltxHeader);
    this.#snapshotReason = null;
    await this.#advance(ltxHeader, wal, map && map.endOffset > 32 ? map.endOffset : 0);
    return { file, limited: false };
  }

  /** Removes an L0 file just written from a WAL that changed under it; the next step reads again. */
  async #discardL0(header: LtxHeader): Promise<SyncStep> {
    await removeIfExists(l0PathOf(this.local, header));
    this.#logger.debug("WAL restarted while read; reading again", { db: this.path });
    return { file: null, limited: false, walRewritten: true };
  }

  async #writeIncrementalL0(
    wal: Deno.FsFile,
    header: WalHeader,
    offset: number,
    position: LtxHeader,
  ): Promise<SyncStep> {
    const map = await readPageMap(wal, header, { offset, maxBytes: this.#options.maxSyncWalBytes });
    if (map.pages.size === 0) return { file: null, limited: false };
    this.#afterWalMapped();
    const pgnos = [...map.pages.keys()];
    // Growth fill: pages the database grew by but no frame carried still belong in the file, so that a
    // compaction of a snapshot with it stays contiguous.
    const lock = lockPgno(this.#pageSize);
    for (let p = position.commit + 1; p <= map.commit; p++) {
      if (p !== lock && !map.pages.has(p)) pgnos.push(p);
    }
    pgnos.sort((a, b) => a - b);
    const txid = this.#nextTxid();
    const ltxHeader = noChecksumHeader(
      { pageSize: this.#pageSize, commit: map.commit, minTxid: txid, maxTxid: txid, timestamp: this.#now() },
      { walOffset: offset, walSize: map.endOffset - offset, walSalt1: header.salt1, walSalt2: header.salt2 },
    );
    const source = new PageSource(this.#dbFile, wal, map.pages, this.#pageSize, this.#readBuffers);
    const file = await this.#writeL0(ltxHeader, pgnos, source);
    if (!(await this.#walUnchanged(wal, header))) return await this.#discardL0(ltxHeader);
    await this.#advance(ltxHeader, wal, map.endOffset);
    return { file, limited: map.limited };
  }

  #writeL0(header: LtxHeader, pgnos: Iterable<number>, source: PageSource): Promise<LtxFileInfo> {
    return this.#writeFile(
      l0PathOf(this.local, header),
      0,
      header,
      pgnos,
      source,
    );
  }

  async #writeFile(
    path: string,
    level: number,
    header: LtxHeader,
    pgnos: Iterable<number>,
    source: PageSource,
  ): Promise<LtxFileInfo> {
    const size = await writeLocalFile(path, header.timestamp, async (sink) => {
      const encoder = new LtxEncoder(sink, header);
      for (const [pgno, data] of source.pages(pgnos)) await encoder.encodePage(pgno, data);
      await encoder.finish();
    });
    return {
      level,
      minTxid: header.minTxid,
      maxTxid: header.maxTxid,
      sizeBytes: size,
      createdAt: header.timestamp,
    };
  }

  async #advance(header: LtxHeader, wal: Deno.FsFile | null, endOffset: number): Promise<void> {
    this.#position = header;
    this.#continuous = this.#control.readLockHeld;
    this.#lastFrame = null;
    if (wal && endOffset > 32) {
      const offset = endOffset - walFrameSize(this.#pageSize);
      const frame = await readFrameHeaderAt(wal, offset);
      if (frame) this.#lastFrame = { offset, frame };
    }
  }

  #nextTxid(): bigint {
    const next = (this.#position?.maxTxid ?? 0n) + 1n;
    return next > this.#minNextTxid ? next : this.#minNextTxid;
  }

  /** When `checkpointIfNeeded` will next checkpoint, if nothing else commits: a time, or Infinity. */
  checkpointDueAt(): number {
    const policy = this.#checkpointPolicy();
    if (policy === null) return Infinity;
    return policy === "by time" ? this.#lastCheckpointAt + this.#options.checkpointIntervalMs : 0;
  }

  /** PASSIVE by size or time, TRUNCATE past the emergency size (ltx-wal-spec §2.6). */
  async #checkpointIfNeeded(): Promise<void> {
    const policy = this.#checkpointPolicy();
    if (policy === "emergency") {
      const result = await this.#passiveCheckpoint();
      if (result && !result.busy && result.logFrames === result.checkpointedFrames) return;
      await this.#truncateCheckpoint();
    } else if (policy === "by size") {
      await this.#passiveCheckpoint();
    } else if (policy === "by time" && this.#now() >= this.checkpointDueAt()) {
      await this.#passiveCheckpoint();
    }
  }

  /** Which rule applies to the WAL copied so far; null when it needs no checkpoint. */
  #checkpointPolicy(): "emergency" | "by size" | "by time" | null {
    const position = this.#position;
    if (!position) return null;
    const synced = position.walOffset + position.walSize;
    if (synced === this.#checkpointedThrough) return null;
    const walBytes = (frames: number) => 32 + (24 + this.#pageSize) * frames;
    const o = this.#options;
    if (o.truncatePageCount > 0 && synced >= walBytes(o.truncatePageCount)) return "emergency";
    if (synced >= walBytes(o.minCheckpointPageCount)) return "by size";
    if (o.checkpointIntervalMs > 0 && synced > walBytes(1)) return "by time";
    return null;
  }

  /** PASSIVE under a write barrier: nothing commits between the final copy and the checkpoint. */
  async #passiveCheckpoint() {
    if (!this.#control.tryBeginBarrier()) {
      this.#logger.debug("checkpoint skipped: writer busy", { db: this.path });
      return null;
    }
    try {
      await this.#syncToEnd();
      this.#control.releaseReadLock();
      try {
        const result = this.#control.checkpoint("PASSIVE");
        this.#lastCheckpointAt = this.#now();
        const position = this.#position!;
        this.#checkpointedThrough = position.walOffset + position.walSize;
        this.#logger.debug("checkpoint", {
          db: this.path,
          mode: "PASSIVE",
          busy: result.busy,
          frames: result.logFrames,
        });
        return result;
      } finally {
        this.#control.acquireReadLock();
      }
    } finally {
      this.#control.endBarrier();
    }
  }

  /** TRUNCATE needs the write lock itself, so commits may slip in unseen: follow it with a snapshot. */
  async #truncateCheckpoint(): Promise<void> {
    await this.#syncToEnd();
    this.#control.releaseReadLock();
    try {
      const result = this.#control.checkpoint("TRUNCATE");
      this.#logger.warn("forced TRUNCATE checkpoint: WAL past the emergency size", {
        db: basename(this.path),
        busy: result.busy,
      });
    } finally {
      this.#control.acquireReadLock();
    }
    this.#continuous = false;
    this.#snapshotReason = "after truncate checkpoint";
    await this.#syncToEnd();
  }
}

/** Where the local L0 file of `header` lives. */
function l0PathOf(local: LocalStore, header: LtxHeader): string {
  return local.pathOf({ level: 0, minTxid: header.minTxid, maxTxid: header.maxTxid });
}

function* allPages(commit: number, pageSize: number): Generator<number> {
  const lock = lockPgno(pageSize);
  for (let p = 1; p <= commit; p++) if (p !== lock) yield p;
}

async function openIfExists(path: string): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
