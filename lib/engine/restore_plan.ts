/**
 * Chooses the smallest chain of LTX files across L9..L0 that rebuilds a target: the latest state, a
 * TXID, or a point in time. Same choices as Litestream v0.5 (ltx-wal-spec §4.3), so plans agree.
 */
import { formatTxid } from "../ltx/txid.ts";
import { type LtxFileInfo, type ReplicaStore, SNAPSHOT_LEVEL } from "../storage/store.ts";
import { WalshipError } from "../util/errors.ts";

export interface RestoreTarget {
  /** Restore up to and including this TXID. */
  txid?: bigint;
  /** Restore the last state whose files were created strictly before this time (ms). */
  timestamp?: number;
}

/** The replica has no backup that reaches the target. */
export class NoBackupError extends WalshipError {
  override name = "NoBackupError";
}

const LEVELS_HIGH_TO_LOW = [8, 7, 6, 5, 4, 3, 2, 1, 0];

function eligible(file: LtxFileInfo, target: RestoreTarget): boolean {
  if (target.txid !== undefined && file.maxTxid > target.txid) return false;
  if (target.timestamp !== undefined && file.createdAt >= target.timestamp) return false;
  return true;
}

/** Is `a` a better next file than `b`: reaches further, then starts earlier, then higher level, then older. */
function better(a: LtxFileInfo, b: LtxFileInfo): boolean {
  if (a.maxTxid !== b.maxTxid) return a.maxTxid > b.maxTxid;
  if (a.minTxid !== b.minTxid) return a.minTxid < b.minTxid;
  if (a.level !== b.level) return a.level > b.level;
  return a.createdAt < b.createdAt;
}

/** Plans from listings already made: `levels` maps a level to its files in TXID order. */
export function planFromListings(levels: Map<number, LtxFileInfo[]>, target: RestoreTarget): LtxFileInfo[] {
  if (target.txid !== undefined && target.timestamp !== undefined) {
    throw new WalshipError("Cannot restore to both a TXID and a timestamp: choose one");
  }
  const plan: LtxFileInfo[] = [];
  let current = 0n;
  const snapshot = (levels.get(SNAPSHOT_LEVEL) ?? []).filter((f) => f.minTxid === 1n && eligible(f, target))
    .reduce<LtxFileInfo | null>((best, f) => (best === null || f.maxTxid >= best.maxTxid ? f : best), null);
  if (snapshot) {
    plan.push(snapshot);
    current = snapshot.maxTxid;
  }
  const cursors = LEVELS_HIGH_TO_LOW.map((level) => ({ files: levels.get(level) ?? [], at: 0 }));
  for (;;) {
    if (target.txid !== undefined && current >= target.txid) break;
    let best: LtxFileInfo | null = null;
    for (const cursor of cursors) {
      while (cursor.at < cursor.files.length && cursor.files[cursor.at]!.minTxid <= current + 1n) {
        const file = cursor.files[cursor.at++]!;
        if (file.maxTxid <= current || !eligible(file, target)) continue;
        if (best === null || better(file, best)) best = file;
      }
    }
    if (!best) break;
    plan.push(best);
    current = best.maxTxid;
  }
  if (target.txid === undefined && target.timestamp === undefined) {
    for (const cursor of cursors) {
      const next = cursor.files.slice(cursor.at).find((f) => f.maxTxid > current);
      if (next && next.minTxid > current + 1n) {
        throw new WalshipError(
          `Replica has a gap: have up to TXID ${formatTxid(current)} but the next file starts at ${
            formatTxid(next.minTxid)
          } (missing ${formatTxid(current + 1n)}-${formatTxid(next.minTxid - 1n)})`,
          { hint: "restore to an earlier -txid or -timestamp, or take a new snapshot" },
        );
      }
    }
  }
  if (plan.length === 0 || (target.txid !== undefined && current < target.txid)) {
    throw new NoBackupError(describeMiss(target, current));
  }
  return plan;
}

function describeMiss(target: RestoreTarget, reached: bigint): string {
  if (target.txid !== undefined) {
    return reached === 0n
      ? `No backup files reach TXID ${formatTxid(target.txid)}`
      : `TXID ${formatTxid(target.txid)} is not available: files reach ${formatTxid(reached)}`;
  }
  if (target.timestamp !== undefined) {
    return `No backup files from before ${new Date(target.timestamp).toISOString()}`;
  }
  return "No backup files found in replica";
}

/** Lists every level of a replica. */
export async function listAllLevels(
  store: Pick<ReplicaStore, "list">,
  signal?: AbortSignal,
): Promise<Map<number, LtxFileInfo[]>> {
  return await listLevels(store, [...LEVELS_HIGH_TO_LOW, SNAPSHOT_LEVEL], signal);
}

/** Lists the given levels of a replica at once. */
export async function listLevels(
  store: Pick<ReplicaStore, "list">,
  which: Iterable<number>,
  signal?: AbortSignal,
): Promise<Map<number, LtxFileInfo[]>> {
  const levels = new Map<number, LtxFileInfo[]>();
  await Promise.all([...which].map(async (level) => {
    levels.set(level, await store.list(level, signal));
  }));
  return levels;
}

/** Lists a replica and plans a restore. */
export async function planRestore(
  store: Pick<ReplicaStore, "list">,
  target: RestoreTarget,
  signal?: AbortSignal,
): Promise<LtxFileInfo[]> {
  return planFromListings(await listAllLevels(store, signal), target);
}
