/**
 * Decides where the next sync reads the WAL from, given the last L0 file written: continue at its end,
 * restart at the WAL header after a checkpoint restart, or take a full snapshot because the WAL no
 * longer provably holds every frame since the last position (truncated, overwritten, several restarts).
 */
import type { LtxHeader } from "../ltx/header.ts";
import {
  frameSaltsUntil,
  readFrameHeaderAt,
  WAL_HEADER_SIZE,
  type WalFrameHeader,
  walFrameSize,
  type WalHeader,
} from "../sqlite/mod.ts";

export type SyncStart =
  | { kind: "incremental"; offset: number }
  | { kind: "snapshot"; reason: string }
  | { kind: "idle" };

/** The last frame covered by the position, as it was read: a cheap check that the WAL was not rewritten. */
export interface LastFrame {
  offset: number;
  frame: WalFrameHeader;
}

export interface DecideInput {
  wal: Deno.FsFile | null;
  walSizeBytes: number;
  header: WalHeader | null;
  position: LtxHeader;
  /** walship held its read lock without a break since `position` was written. */
  continuous: boolean;
  lastFrame: LastFrame | null;
  /** Checks that the frame at `offset` holds a page of the position's last file (slow path after restart). */
  frameInPosition: (offset: number, frame: WalFrameHeader) => Promise<boolean>;
}

function sameFrame(a: WalFrameHeader, b: WalFrameHeader): boolean {
  return a.pgno === b.pgno && a.commit === b.commit && a.salt1 === b.salt1 && a.salt2 === b.salt2 &&
    a.checksum1 === b.checksum1 && a.checksum2 === b.checksum2;
}

/** Whether the frame ending at `offset` is still the one the position copied. */
async function previousFrameIntact(input: DecideInput, offset: number): Promise<boolean> {
  const { wal, position, lastFrame } = input;
  if (!wal) return false;
  const prevOffset = offset - walFrameSize(position.pageSize);
  if (prevOffset < WAL_HEADER_SIZE) return false;
  const frame = await readFrameHeaderAt(wal, prevOffset);
  if (!frame || frame.salt1 !== position.walSalt1 || frame.salt2 !== position.walSalt2) return false;
  if (lastFrame && lastFrame.offset === prevOffset) return sameFrame(lastFrame.frame, frame);
  return await input.frameInPosition(prevOffset, frame);
}

export async function decideSyncStart(input: DecideInput): Promise<SyncStart> {
  const { header, position, continuous, wal, walSizeBytes } = input;
  const offset = position.walOffset + position.walSize;
  if (!header) {
    // No WAL (deleted on close, or truncated): nothing to copy if we watched it go; else we cannot know.
    return continuous ? { kind: "idle" } : { kind: "snapshot", reason: "wal missing since last position" };
  }
  if (header.pageSize !== position.pageSize) return { kind: "snapshot", reason: "page size changed" };
  const saltsMatch = header.salt1 === position.walSalt1 && header.salt2 === position.walSalt2;
  const hadNoWal = position.walSalt1 === 0 && position.walSalt2 === 0 && position.walSize === 0;

  if (continuous) {
    // Under an unbroken read lock the WAL can restart at most once, and only after every frame we copied
    // was checkpointed, with none appended since (ltx-wal-spec §1.7): the new generation is all new.
    if (saltsMatch) {
      return walSizeBytes >= offset
        ? { kind: "incremental", offset }
        : { kind: "snapshot", reason: "wal shorter than position" };
    }
    if (hadNoWal || header.salt1 === ((position.walSalt1 + 1) >>> 0)) {
      return { kind: "incremental", offset: WAL_HEADER_SIZE };
    }
    return { kind: "snapshot", reason: "unexpected wal generation" };
  }

  if (walSizeBytes < offset) return { kind: "snapshot", reason: "wal truncated by another process" };
  if (saltsMatch) {
    if (offset === WAL_HEADER_SIZE) return { kind: "incremental", offset };
    return (await previousFrameIntact(input, offset))
      ? { kind: "incremental", offset }
      : { kind: "snapshot", reason: "wal overwritten by another process" };
  }
  if (hadNoWal) return { kind: "snapshot", reason: "wal created while walship was stopped" };
  // Restarted while we were away. Safe only if our last frame is intact, no frame of the old generation
  // follows it (those may have been checkpointed unseen), and no generation came in between.
  if (offset > WAL_HEADER_SIZE && !(await previousFrameIntact(input, offset))) {
    return { kind: "snapshot", reason: "wal restarted and overwritten" };
  }
  const next = wal ? await readFrameHeaderAt(wal, offset) : null;
  if (next && next.salt1 === position.walSalt1 && next.salt2 === position.walSalt2) {
    return { kind: "snapshot", reason: "wal restarted after frames walship did not copy" };
  }
  const seen = wal
    ? await frameSaltsUntil(wal, header, { salt1: position.walSalt1, salt2: position.walSalt2 })
    : [];
  const foreign = seen.filter((s) =>
    !(s.salt1 === header.salt1 && s.salt2 === header.salt2) &&
    !(s.salt1 === position.walSalt1 && s.salt2 === position.walSalt2)
  );
  if (foreign.length > 0) {
    return { kind: "snapshot", reason: "several checkpoints while walship was stopped" };
  }
  return { kind: "incremental", offset: WAL_HEADER_SIZE };
}
