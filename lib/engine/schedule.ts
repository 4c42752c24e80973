/**
 * When a replica's files are compacted, snapshotted and pruned: compaction intervals for L1..Ln, the
 * snapshot interval, and the retention policy. Boundaries are aligned to the wall clock (a 1h level
 * compacts just after each full hour, a 24h snapshot just after midnight UTC).
 */
import { DEFAULT_RETENTION, type RetentionPolicy } from "./retention.ts";

export interface MaintenanceSchedule {
  /** Interval of each compaction level: index 0 is L1. At most 8 levels. */
  levelIntervalsMs: number[];
  /** L9 snapshot interval. @default 24h */
  snapshotIntervalMs: number;
  /** How often retention runs besides after compactions and snapshots. @default 15s */
  retentionCheckIntervalMs: number;
  /** false: never delete remote files (a bucket lifecycle rule does it). @default true */
  retentionEnabled: boolean;
  retention: RetentionPolicy;
}

export const MAX_COMPACTION_LEVELS = 8;

export const DEFAULT_SCHEDULE: MaintenanceSchedule = {
  levelIntervalsMs: [30_000, 5 * 60_000, 3600_000],
  snapshotIntervalMs: 24 * 3600_000,
  retentionCheckIntervalMs: 15_000,
  retentionEnabled: true,
  retention: DEFAULT_RETENTION,
};

/** The last boundary of `intervalMs` at or before `now` (epoch-aligned, so UTC). */
export function alignDown(now: number, intervalMs: number): number {
  return Math.floor(now / intervalMs) * intervalMs;
}
