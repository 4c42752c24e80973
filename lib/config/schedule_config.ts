/**
 * Top-level maintenance keys → a MaintenanceSchedule: `levels`, `snapshot` (also from a database's own
 * `snapshot:`, which Litestream lifts to the top level), `l0-retention`, `l0-retention-check-interval` and
 * `retention.enabled`.
 */
import { DEFAULT_SCHEDULE, type MaintenanceSchedule, MAX_COMPACTION_LEVELS } from "../engine/schedule.ts";
import type { KeepPolicy } from "../engine/retention.ts";
import { configError, type ConfigMap, type ConfigValue } from "./yaml_source.ts";

const KEEP_KEYS = {
  "keep-last": "last",
  "keep-hourly": "hourly",
  "keep-daily": "daily",
  "keep-weekly": "weekly",
  "keep-monthly": "monthly",
} as const satisfies Record<string, keyof KeepPolicy>;
const SNAPSHOT_KEYS = ["interval", "retention", ...Object.keys(KEEP_KEYS)];

/** Reads the schedule from the top-level mapping and the databases' own `snapshot:` mappings. */
export function readSchedule(root: ConfigMap, dbSnapshots: ConfigMap[]): MaintenanceSchedule {
  const snapshot = liftSnapshot(root.get("snapshot")?.map(), dbSnapshots);
  const keep: KeepPolicy = {};
  for (const [key, field] of Object.entries(KEEP_KEYS)) {
    const value = snapshot.get(key);
    if (value !== undefined) keep[field] = value;
  }
  const retentionMs = snapshot.get("retention") ?? DEFAULT_SCHEDULE.retention.snapshotRetentionMs;
  if (retentionMs === 0 && Object.keys(keep).length === 0) {
    throw configError(
      root.lineOf("snapshot"),
      "snapshot.retention must be greater than 0",
      "a retention of 0 needs keep-* rules to say which snapshots stay",
    );
  }
  const retention = root.get("retention")?.map();
  retention?.checkKeys(["enabled"]);
  return {
    levelIntervalsMs: readLevels(root.get("levels")),
    snapshotIntervalMs: snapshot.get("interval") ?? DEFAULT_SCHEDULE.snapshotIntervalMs,
    retentionCheckIntervalMs: duration(root.get("l0-retention-check-interval"), ">0") ??
      DEFAULT_SCHEDULE.retentionCheckIntervalMs,
    retentionEnabled: retention?.get("enabled")?.bool() ?? DEFAULT_SCHEDULE.retentionEnabled,
    retention: {
      snapshotRetentionMs: retentionMs,
      l0RetentionMs: duration(root.get("l0-retention"), ">=0") ?? DEFAULT_SCHEDULE.retention.l0RetentionMs,
      keep,
    },
  };
}

function readLevels(value: ConfigValue | undefined): number[] {
  if (!value) return [...DEFAULT_SCHEDULE.levelIntervalsMs];
  const levels = value.list();
  if (levels.length > MAX_COMPACTION_LEVELS) {
    throw configError(
      levels[MAX_COMPACTION_LEVELS]!.line,
      `levels has ${levels.length} entries; at most ${MAX_COMPACTION_LEVELS} (L1 to L8; L9 holds snapshots)`,
    );
  }
  return levels.map((level) => {
    const map = level.map();
    map.checkKeys(["interval"]);
    const interval = duration(map.get("interval"), ">0");
    if (interval === undefined) {
      throw configError(map.line, `${map.where} needs an interval`, "e.g. interval: 5m");
    }
    return interval;
  });
}

/**
 * Snapshot settings apply to every database. Each key comes from the top level, else from any database
 * that sets it; two places that disagree are an error (Litestream takes the first silently).
 */
function liftSnapshot(global: ConfigMap | undefined, perDb: ConfigMap[]): Map<string, number> {
  const maps = global ? [global, ...perDb] : perDb;
  for (const map of maps) map.checkKeys(SNAPSHOT_KEYS);
  const out = new Map<string, number>();
  for (const key of SNAPSHOT_KEYS) {
    let first: ConfigValue | undefined;
    for (const map of maps) {
      const value = map.get(key);
      if (!value) continue;
      const parsed = key in KEEP_KEYS
        ? keepCount(value)
        : duration(value, key === "interval" ? ">0" : ">=0")!;
      if (first && out.get(key) !== parsed) {
        throw configError(
          value.line,
          `${value.where} differs from ${first.where} on line ${first.line}`,
          "snapshot settings apply to all databases; set them once at the top level",
        );
      }
      first ??= value;
      out.set(key, parsed);
    }
  }
  return out;
}

function keepCount(value: ConfigValue): number {
  const n = value.int();
  if (n < 0) throw configError(value.line, `${value.where} must be 0 or more`);
  return n;
}

function duration(value: ConfigValue | undefined, rule: ">0" | ">=0"): number | undefined {
  if (!value) return undefined;
  const ms = value.duration();
  if (rule === ">0" && ms <= 0) throw configError(value.line, `${value.where} must be greater than 0`);
  return ms;
}
