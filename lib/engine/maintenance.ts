/**
 * Keeps one replica small and fast to restore: compacts each level into the next once per interval
 * boundary, and applies retention. Works only through the store (plus optional local copies of L0
 * files), so it is the same for file, S3 and Azure replicas. For a replica that stores files encrypted,
 * a local mirror keeps a plaintext copy of every file it compacts, so it never reads one back.
 */
import { formatTxid } from "../ltx/txid.ts";
import type { LtxFileInfo, ReplicaStore } from "../storage/store.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { compactInto, compactionRuns, type CompactOptions } from "./compactor.ts";
import type { LocalMirror } from "./local_store.ts";
import { SNAPSHOT_LEVEL } from "../storage/store.ts";
import { listAllLevels, listLevels } from "./restore_plan.ts";
import { filesToRemove, retentionOutlook } from "./retention.ts";
import { alignDown, type MaintenanceSchedule } from "./schedule.ts";

/** An unfed level still lists its source once in this many of its intervals. */
const LOOK_ANYWAY_INTERVALS = 10;
/** Retention lists the replica at least this often, for files other processes wrote or removed. */
const RETENTION_RECHECK_MS = 3600_000;

export interface MaintenanceOptions {
  schedule: MaintenanceSchedule;
  /** Where merged files wait for upload. */
  scratchDir: string;
  openLocal?: CompactOptions["openLocal"];
  yieldTo?: CompactOptions["yieldTo"];
  /** Local copies of compacted files, used when the replica's listing shows it stores them encrypted. */
  mirror?: LocalMirror;
  now?: () => number;
  logger?: Logger;
}

export interface MaintenanceResult {
  compacted: LtxFileInfo[];
  removed: LtxFileInfo[];
}

export class ReplicaMaintenance {
  readonly store: ReplicaStore;
  #o: MaintenanceOptions;
  #now: () => number;
  #logger: Logger;
  /** Per level (index 0 = L1): the last boundary already handled. */
  #handled: number[];
  /**
   * Per level: whether its source level may hold files it has not merged (new L0 shipments, or a lower
   * compaction that wrote). An unfed level skips its listings at a boundary, so an idle replica is not
   * listed every 30 s; it still looks every LOOK_ANYWAY_INTERVALS intervals, for files others wrote.
   */
  #fed: boolean[];
  #lookedAt: number[];
  /**
   * Per level: when the lone source file it set aside becomes worth a merge of its own (Infinity: none
   * set aside). A merge of one file is a copy of it; waiting lets later files join the same merge.
   */
  #revisitAt: number[];
  /**
   * When retention next lists the replica, and which levels. Every level: at start, after a snapshot,
   * when a snapshot leaves the window (the restore base moves), and at least hourly. Only the levels a
   * change touched, with L9 for the base: L0 and L1 after an L1 merge and when a compacted L0 file comes
   * of age; a level whose covered newest file a new file frees. Never sooner than the check interval,
   * except right after a merge. An idle replica, or one that only receives L0 files, is not listed again
   * and again, and a busy one lists three levels per L1 merge rather than ten.
   */
  #retentionFullAt = 0;
  #retentionL0At = Infinity;
  #retentionFocusAt = Infinity;
  #retentionFocus = new Set<number>();
  #retentionRanAt = -Infinity;
  /** Levels whose newest file the last look found covered, which the next file of its level frees. */
  #heldLevels = new Set<number>();
  /** The highest TXID in L1 as last seen, or null before the first look. */
  l1MaxTxid: bigint | null = null;

  constructor(store: ReplicaStore, options: MaintenanceOptions) {
    this.store = store;
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
    // The first compaction of each level waits for its next boundary, as Litestream's do: a new replica
    // does not get copies of its first files in every level at once.
    const start = this.#now();
    this.#handled = options.schedule.levelIntervalsMs.map((interval) => alignDown(start, interval));
    this.#fed = this.#handled.map(() => true);
    this.#lookedAt = this.#handled.map(() => start);
    this.#revisitAt = this.#handled.map(() => Infinity);
  }

  /** New files reached the replica: L1 has something to merge, and a covered newest L0 file may now go. */
  noteActivity(): void {
    this.#fed[0] = true;
    if (this.#heldLevels.has(0)) {
      this.#retentionFocus.add(0);
      this.#retentionFocusAt = Math.min(this.#retentionFocusAt, this.#retentionSoonest());
    }
  }

  /** A snapshot reached the replica: also, older snapshots and the files they cover may now go. */
  noteSnapshot(): void {
    this.noteActivity();
    this.#retentionFullAt = Math.min(this.#retentionFullAt, this.#retentionSoonest());
  }

  #retentionSoonest(): number {
    return this.#retentionRanAt + this.#o.schedule.retentionCheckIntervalMs;
  }

  #retentionDueAt(): number {
    return Math.min(this.#retentionFullAt, this.#retentionL0At, this.#retentionFocusAt);
  }

  /** Whether `runDue` has anything to do now: a compaction boundary passed, or retention is due. */
  isDue(): boolean {
    const now = this.#now();
    const intervals = this.#o.schedule.levelIntervalsMs;
    for (let i = 0; i < intervals.length; i++) {
      if (this.#levelDue(i, now) === "compact") return true;
    }
    return this.#o.schedule.retentionEnabled && now >= this.#retentionDueAt();
  }

  /** Level i+1 at `now`: nothing to do, a boundary to note, or a boundary to compact at. */
  #levelDue(i: number, now: number): "no" | "skip" | "compact" {
    const interval = this.#o.schedule.levelIntervalsMs[i]!;
    const boundary = alignDown(now, interval);
    if (boundary <= this.#handled[i]!) return "no";
    const looked = now - this.#lookedAt[i]! < LOOK_ANYWAY_INTERVALS * interval;
    return this.#fed[i] || !looked || now >= this.#revisitAt[i]! ? "compact" : "skip";
  }

  get compactsL0(): boolean {
    return this.#o.schedule.levelIntervalsMs.length > 0;
  }

  /**
   * Compactions whose boundary has passed, lowest level first, then retention if enabled and due
   * (`retention: false` skips it, as `replicate -once` does without `-enforce-retention`).
   */
  async runDue(signal?: AbortSignal, options: { retention?: boolean } = {}): Promise<MaintenanceResult> {
    const compacted: LtxFileInfo[] = [];
    const intervals = this.#o.schedule.levelIntervalsMs;
    for (let i = 0; i < intervals.length; i++) {
      const now = this.#now();
      const due = this.#levelDue(i, now);
      if (due === "no") continue;
      const boundary = alignDown(now, intervals[i]!);
      if (due === "compact") compacted.push(...await this.compactLevel(i + 1, boundary, signal));
      this.#handled[i] = boundary;
    }
    // A merge into L1 covers more L0 files; one into a level whose newest file was held frees it.
    let merged = false;
    for (const { level } of compacted) {
      if (level !== 1 && !this.#heldLevels.has(level)) continue;
      this.#retentionFocus.add(level === 1 ? 0 : level); // L0 brings L1 with it
      merged = true;
    }
    let removed: LtxFileInfo[] = [];
    const now = this.#now();
    const retentionDue = merged || now >= this.#retentionDueAt();
    if (this.#o.schedule.retentionEnabled && (options.retention ?? true) && retentionDue) {
      removed = await this.#retain(now >= this.#retentionFullAt ? null : this.#focusedLevels(now), signal);
    }
    return { compacted, removed };
  }

  /**
   * Merges the files of `level - 1` past the end of `level` into it. With a `boundary`, waits while the
   * level's newest file is younger than it, so each level compacts once per interval.
   */
  async compactLevel(level: number, boundary?: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    // Cleared before listing, so files noted while this runs feed the next boundary.
    const i = level - 1;
    this.#fed[i] = false;
    this.#lookedAt[i] = this.#now();
    this.#revisitAt[i] = Infinity;
    try {
      const written = await this.#compactLevel(level, boundary, signal);
      if (written === null) this.#fed[i] = true; // waited: the source is still unmerged
      else if (written.length > 0 && level < this.#fed.length) this.#fed[level] = true;
      return written ?? [];
    } catch (err) {
      this.#fed[i] = true;
      throw err;
    }
  }

  /** compactLevel's work; null when the level waits for its boundary. */
  async #compactLevel(level: number, boundary?: number, signal?: AbortSignal): Promise<LtxFileInfo[] | null> {
    const [dst, src] = await Promise.all([
      this.store.list(level, signal),
      this.store.list(level - 1, signal),
    ]);
    const newest = dst.reduce<LtxFileInfo | null>(
      (m, f) => (m === null || f.maxTxid > m.maxTxid ? f : m),
      null,
    );
    const dstMax = newest?.maxTxid ?? 0n;
    if (level === 1) this.l1MaxTxid = dstMax;
    if (boundary !== undefined && newest && newest.createdAt > boundary) return null;
    if (boundary !== undefined && this.#setAsideLoneFile(level, src, dstMax)) return [];
    const mirror = [...dst, ...src].some((f) => f.ltxSizeBytes !== undefined) ? this.#o.mirror : undefined;
    const target = mirror ? mirror.keepingCopies(this.store) : this.store;
    const written = await compactInto(target, src, dstMax, level, {
      scratchDir: this.#o.scratchDir,
      openLocal: level === 1 ? this.#o.openLocal : mirror && ((file) => mirror.openCopy(file)),
      yieldTo: this.#o.yieldTo,
      signal,
    });
    for (const file of written) {
      this.#logger.info("compacted", {
        ltxLevel: level,
        txid: `${formatTxid(file.minTxid)}-${formatTxid(file.maxTxid)}`,
        bytes: file.sizeBytes,
      });
    }
    if (level === 1 && written.length > 0) this.l1MaxTxid = written.at(-1)!.maxTxid;
    return written;
  }

  /**
   * At a boundary, a source holding one unmerged file waits for company (the level is fed again when
   * one arrives) up to the next level's interval (the top level: ten of its own). Copying it alone
   * would upload it again for nothing, which for a large first file is the whole database; true when
   * it waits.
   */
  #setAsideLoneFile(level: number, src: LtxFileInfo[], dstMax: bigint): boolean {
    const runs = compactionRuns(src, dstMax);
    if (runs.length !== 1 || runs[0]!.length !== 1) return false;
    const intervals = this.#o.schedule.levelIntervalsMs;
    const waitMs = intervals[level] ?? intervals[level - 1]! * LOOK_ANYWAY_INTERVALS;
    const until = runs[0]![0]!.createdAt + waitMs;
    if (this.#now() >= until) return false;
    this.#revisitAt[level - 1] = until;
    this.#logger.debug("lone file waits for company", {
      ltxLevel: level,
      until: new Date(until).toISOString(),
    });
    return true;
  }

  /** The levels a pass that need not list all must list: what is due, and L9 for the restore base. */
  #focusedLevels(now: number): Set<number> {
    const levels = new Set([...this.#retentionFocus, SNAPSHOT_LEVEL]);
    if (now >= this.#retentionL0At) levels.add(0);
    if (levels.has(0)) levels.add(1); // L0 files go once L1 covers them
    return levels;
  }

  /** Removes what the retention policy no longer needs (see retention.ts), looking at every level. */
  enforceRetention(signal?: AbortSignal): Promise<LtxFileInfo[]> {
    return this.#retain(null, signal);
  }

  /** A retention pass over `only` those levels, or every level. */
  async #retain(only: Set<number> | null, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    const now = this.#now();
    const levels = only
      ? await listLevels(this.store, only, signal)
      : await listAllLevels(this.store, signal);
    const { retention, retentionCheckIntervalMs } = this.#o.schedule;
    const compactionLevels = this.#o.schedule.levelIntervalsMs.map((_, i) => i + 1);
    const remove = filesToRemove(levels, now, retention, compactionLevels);
    const outlook = retentionOutlook(levels, now, retention, compactionLevels, remove);
    const soonest = now + retentionCheckIntervalMs;
    this.#retentionRanAt = now;
    if (only) {
      this.#retentionFullAt = Math.min(this.#retentionFullAt, Math.max(soonest, outlook.baseMovesAt));
      for (const level of levels.keys()) this.#heldLevels.delete(level);
      for (const level of outlook.heldLevels) this.#heldLevels.add(level);
    } else {
      this.#retentionFullAt = Math.max(soonest, Math.min(outlook.baseMovesAt, now + RETENTION_RECHECK_MS));
      this.#heldLevels = outlook.heldLevels;
    }
    if (levels.has(0)) this.#retentionL0At = Math.max(soonest, outlook.l0DueAt);
    this.#retentionFocus.clear();
    this.#retentionFocusAt = Infinity;
    if (remove.length > 0) {
      await this.store.remove(remove, signal);
      const byLevel = new Map<number, number>();
      for (const f of remove) byLevel.set(f.level, (byLevel.get(f.level) ?? 0) + 1);
      this.#logger.info("retention removed files", {
        files: remove.length,
        levels: [...byLevel].map(([l, n]) => `L${l}:${n}`).join(","),
      });
    }
    if (this.#o.mirror) {
      const removed = new Set(remove);
      const kept = [...levels.values()].flat().filter((f) => !removed.has(f));
      await this.#o.mirror.prune(kept, [...levels.keys()]);
    }
    return remove;
  }
}
