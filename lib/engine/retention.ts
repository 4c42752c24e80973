/**
 * Which remote files a replica may delete: pure decisions over listings, so every rule is testable with
 * a fixed clock. Snapshots are kept by time (`snapshot.retention`) or by a restic-style keep policy; the
 * compaction levels keep what a point-in-time restore inside the retention window still needs; L0 files
 * go once compacted and older than `l0-retention`.
 */
import { type LtxFileInfo, SNAPSHOT_LEVEL } from "../storage/store.ts";

/** restic-style rules (*walship*): each keeps the newest snapshot of that many distinct periods, UTC. */
export interface KeepPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export interface RetentionPolicy {
  /** Every moment this far back stays restorable. @default 24h */
  snapshotRetentionMs: number;
  /** L0 files this young are kept even once compacted. @default 5m */
  l0RetentionMs: number;
  keep: KeepPolicy;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  snapshotRetentionMs: 24 * 3600_000,
  l0RetentionMs: 5 * 60_000,
  keep: {},
};

export interface SnapshotDecision {
  keep: LtxFileInfo[];
  remove: LtxFileInfo[];
  /**
   * The oldest snapshot a point-in-time restore of the window starts from: the newest one created at or
   * before the window's start, or the oldest inside it. Level files up to its TXID are no longer needed.
   */
  base: LtxFileInfo | null;
}

function newestFirst(a: LtxFileInfo, b: LtxFileInfo): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.maxTxid > b.maxTxid ? -1 : a.maxTxid < b.maxTxid ? 1 : 0;
}

/** Period keys for the keep policy: equal keys mean the same hour, day, ISO week or month (UTC). */
const PERIODS: Record<Exclude<keyof KeepPolicy, "last">, (ms: number) => string> = {
  hourly: (ms) => new Date(ms).toISOString().slice(0, 13),
  daily: (ms) => new Date(ms).toISOString().slice(0, 10),
  weekly: isoWeek,
  monthly: (ms) => new Date(ms).toISOString().slice(0, 7),
};

function isoWeek(ms: number): string {
  const d = new Date(ms);
  const day = (d.getUTCDay() + 6) % 7; // Monday = 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86400_000)) + 1;
  return `${year}-W${week}`;
}

/**
 * Splits snapshots into kept and removable. A snapshot is kept when any rule keeps it: it is the newest;
 * it is younger than the retention; it is the window's base; or a keep rule selects it.
 */
export function decideSnapshots(
  snapshots: LtxFileInfo[],
  now: number,
  policy: RetentionPolicy,
): SnapshotDecision {
  const sorted = [...snapshots].sort(newestFirst);
  const kept = new Set<LtxFileInfo>();
  if (sorted[0]) kept.add(sorted[0]);
  const windowStart = now - policy.snapshotRetentionMs;
  let base: LtxFileInfo | null = null;
  for (const s of sorted) {
    kept.add(s);
    base = s;
    if (s.createdAt <= windowStart) break;
  }
  sorted.slice(0, policy.keep.last ?? 0).forEach((s) => kept.add(s));
  for (const [rule, periodOf] of Object.entries(PERIODS)) {
    const count = policy.keep[rule as keyof typeof PERIODS] ?? 0;
    const seen = new Set<string>();
    for (const s of sorted) {
      if (seen.size >= count) break;
      const period = periodOf(s.createdAt);
      if (seen.has(period)) continue;
      seen.add(period);
      kept.add(s);
    }
  }
  return { keep: sorted.filter((s) => kept.has(s)), remove: sorted.filter((s) => !kept.has(s)), base };
}

/**
 * Every remote file retention removes. `levels` maps each level to its files in TXID order;
 * `compactionLevels` are the configured levels above 0 (L0 files wait for L1 when it exists). A level
 * left out of `levels` loses nothing; one listed needs L9 listed for its base, and L0 needs L1 too.
 */
export function filesToRemove(
  levels: Map<number, LtxFileInfo[]>,
  now: number,
  policy: RetentionPolicy,
  compactionLevels: number[],
): LtxFileInfo[] {
  const { remove, base } = decideSnapshots(levels.get(SNAPSHOT_LEVEL) ?? [], now, policy);
  const out = [...remove];
  const floor = base?.maxTxid ?? 0n;
  for (let level = 0; level < SNAPSHOT_LEVEL; level++) {
    const files = levels.get(level) ?? [];
    // The newest file of a level stays: it is where compaction into the next level continues.
    const candidates = files.slice(0, -1);
    const covered = new Set(candidates.filter((f) => f.maxTxid <= floor));
    if (level === 0 && compactionLevels.includes(1)) {
      const l1Max = compactedThrough(levels, compactionLevels);
      // Stop at the first file still needed, so the L0 files left are a contiguous tail.
      for (const f of candidates) {
        if (f.maxTxid > l1Max || now - f.createdAt < policy.l0RetentionMs) break;
        covered.add(f);
      }
    }
    out.push(...candidates.filter((f) => covered.has(f)));
  }
  return out;
}

/** The highest TXID in L1 where L1 is a compaction level, else 0 (L0 files then wait for a snapshot). */
function compactedThrough(levels: Map<number, LtxFileInfo[]>, compactionLevels: number[]): bigint {
  if (!compactionLevels.includes(1)) return 0n;
  return (levels.get(1) ?? []).reduce((m, f) => (f.maxTxid > m ? f.maxTxid : m), 0n);
}

export interface RetentionOutlook {
  /** When a snapshot leaves the window and moves the restore base (Infinity: never): every level may gain removable files. */
  baseMovesAt: number;
  /** When the next compacted L0 file comes of age (Infinity: none). */
  l0DueAt: number;
  /** Levels whose newest file is kept only for being the newest: the next file there frees it. */
  heldLevels: Set<number>;
}

/**
 * What may change the verdict of `filesToRemove` over the same listings, so retention need not list a
 * replica again before then: a snapshot leaving the window moves the restore base, a compacted L0 file
 * comes of age, or a new file makes a covered newest file an ordinary one. `removing` is that verdict,
 * where the caller has it already. Over a partial listing, it speaks for the levels listed only.
 */
export function retentionOutlook(
  levels: Map<number, LtxFileInfo[]>,
  now: number,
  policy: RetentionPolicy,
  compactionLevels: number[],
  removing: LtxFileInfo[] = filesToRemove(levels, now, policy, compactionLevels),
): RetentionOutlook {
  const removable = new Set(removing);
  const { base } = decideSnapshots(levels.get(SNAPSHOT_LEVEL) ?? [], now, policy);
  const floor = base?.maxTxid ?? 0n;
  const windowStart = now - policy.snapshotRetentionMs;
  let baseMovesAt = Infinity;
  for (const s of levels.get(SNAPSHOT_LEVEL) ?? []) {
    if (s.createdAt > windowStart) {
      baseMovesAt = Math.min(baseMovesAt, s.createdAt + policy.snapshotRetentionMs);
    }
  }
  let l0DueAt = Infinity;
  const l1Max = compactedThrough(levels, compactionLevels);
  const l0 = levels.get(0) ?? [];
  const firstKept = l0.slice(0, -1).find((f) => !removable.has(f));
  if (firstKept && firstKept.maxTxid <= l1Max) l0DueAt = firstKept.createdAt + policy.l0RetentionMs;
  const heldLevels = new Set<number>();
  for (let level = 0; level < SNAPSHOT_LEVEL; level++) {
    const newest = levels.get(level)?.at(-1);
    if (!newest) continue;
    if (newest.maxTxid <= floor) heldLevels.add(level);
    else if (level === 0 && newest.maxTxid <= l1Max && !firstKept) {
      // Compacted: once of age, it goes as soon as a newer file arrives.
      const ofAge = newest.createdAt + policy.l0RetentionMs;
      if (ofAge <= now) heldLevels.add(level);
      else l0DueAt = Math.min(l0DueAt, ofAge);
    }
  }
  return { baseMovesAt, l0DueAt, heldLevels };
}
