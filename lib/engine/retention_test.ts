import assert from "node:assert/strict";
import type { LtxFileInfo } from "../storage/store.ts";
import {
  decideSnapshots,
  DEFAULT_RETENTION,
  filesToRemove,
  retentionOutlook,
  type RetentionPolicy,
} from "./retention.ts";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

function file(level: number, min: bigint, max: bigint, createdAt: number): LtxFileInfo {
  return { level, minTxid: min, maxTxid: max, sizeBytes: 1000, createdAt };
}

/** One snapshot per hour for `hours` hours back from NOW, TXIDs rising with time. */
function hourlySnapshots(hours: number): LtxFileInfo[] {
  return Array.from({ length: hours }, (_, i) => file(9, 1n, BigInt((hours - i) * 10), NOW - i * HOUR));
}

const policy = (over: Partial<RetentionPolicy>): RetentionPolicy => ({ ...DEFAULT_RETENTION, ...over });

Deno.test("time retention keeps the window and one base snapshot before it", () => {
  const snaps = hourlySnapshots(48);
  const { keep, remove, base } = decideSnapshots(snaps, NOW, policy({ snapshotRetentionMs: 5 * HOUR + 1 }));
  // Ages 0..5 h are inside (5 h + 1 ms); the 6 h old one is the base of the window.
  assert.deepEqual(keep.map((s) => (NOW - s.createdAt) / HOUR), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(base, keep.at(-1));
  assert.equal(remove.length, 48 - 7);
});

Deno.test("the newest snapshot is never removed, however old", () => {
  const old = [file(9, 1n, 5n, NOW - 30 * DAY), file(9, 1n, 3n, NOW - 40 * DAY)];
  const { keep, remove } = decideSnapshots(old, NOW, policy({ snapshotRetentionMs: DAY }));
  assert.deepEqual(keep.map((s) => s.maxTxid), [5n]);
  assert.deepEqual(remove.map((s) => s.maxTxid), [3n]);
});

Deno.test("keep-daily keeps the newest snapshot of each of the last N days (UTC)", () => {
  // A cron job every 4 hours for 20 days.
  const snaps = Array.from({ length: 120 }, (_, i) => file(9, 1n, BigInt(1000 - i), NOW - i * 4 * HOUR));
  const { keep } = decideSnapshots(snaps, NOW, policy({ snapshotRetentionMs: 0, keep: { daily: 7 } }));
  const days = keep.map((s) => new Date(s.createdAt).toISOString().slice(0, 10));
  assert.equal(new Set(days).size, 7);
  assert.equal(keep.length, 7); // the window base (retention 0) is the newest, already one of them
  for (const s of keep) {
    const sameDay = snaps.filter((o) =>
      new Date(o.createdAt).toISOString().slice(0, 10) ===
        new Date(s.createdAt).toISOString().slice(0, 10)
    );
    assert.equal(Math.max(...sameDay.map((o) => o.createdAt)), s.createdAt, "newest of its day");
  }
});

Deno.test("keep rules combine: last, hourly, weekly and monthly add up as a union", () => {
  const snaps = Array.from({ length: 24 * 70 }, (_, i) => file(9, 1n, BigInt(100000 - i), NOW - i * HOUR));
  const only = (keep: RetentionPolicy["keep"]) =>
    decideSnapshots(snaps, NOW, policy({ snapshotRetentionMs: 0, keep })).keep.length;
  assert.equal(only({ last: 3 }), 3);
  assert.equal(only({ hourly: 5 }), 5);
  assert.equal(only({ monthly: 3 }), 3); // Nov, Oct, Sep 2026 all have snapshots within 70 days
  assert.equal(only({ weekly: 4 }), 4);
  assert.equal(only({ last: 3, hourly: 5 }), 5); // the 3 newest are also the newest of their hours
  assert.equal(only({ hourly: 2, monthly: 2 }), 3); // this hour, last hour, and the newest of October
});

Deno.test("level files up to the window base go, the newest of each level stays", () => {
  const levels = new Map<number, LtxFileInfo[]>([
    [9, [file(9, 1n, 50n, NOW - 3 * DAY), file(9, 1n, 100n, NOW - 2 * HOUR)]],
    [2, [file(2, 1n, 40n, NOW - 4 * DAY), file(2, 41n, 90n, NOW - 3 * HOUR), file(2, 91n, 120n, NOW - HOUR)]],
    [1, [file(1, 1n, 20n, NOW - 4 * DAY)]],
  ]);
  const removed = filesToRemove(levels, NOW, policy({ snapshotRetentionMs: DAY }), [1, 2]);
  // The 3-day-old snapshot is the base (newest at or before the window start): nothing below TXID 50 is
  // needed, but the L2 file 41-90 straddles it and stays; L1 holds one file, the newest, so it stays.
  assert.deepEqual(removed.map((f) => `${f.level}:${f.minTxid}-${f.maxTxid}`), ["2:1-40"]);
});

Deno.test("L0 files go once compacted into L1 and old enough, as a prefix, never the newest", () => {
  const min = 60_000;
  const levels = new Map<number, LtxFileInfo[]>([
    [0, [
      file(0, 1n, 1n, NOW - 10 * min),
      file(0, 2n, 2n, NOW - 9 * min),
      file(0, 3n, 3n, NOW - 2 * min), // compacted but too recent: stops here
      file(0, 4n, 4n, NOW - 8 * min),
      file(0, 5n, 5n, NOW - 7 * min), // not yet in L1
    ]],
    [1, [file(1, 1n, 4n, NOW - 2 * min)]],
  ]);
  const removed = filesToRemove(levels, NOW, policy({ l0RetentionMs: 5 * min }), [1, 2, 3]);
  assert.deepEqual(removed.map((f) => f.maxTxid), [1n, 2n]);
  // Without L1 in the schedule, L0 files wait for a snapshot to cover them.
  assert.deepEqual(filesToRemove(levels, NOW, policy({ l0RetentionMs: 5 * min }), []), []);
});

Deno.test("retentionOutlook: when a compacted L0 file comes of age, or a snapshot leaves the window", () => {
  const min = 60_000;
  const l0 = [
    file(0, 1n, 1n, NOW - 10 * min), // removable now
    file(0, 2n, 2n, NOW - 2 * min), // compacted, 3 more minutes to go
    file(0, 3n, 3n, NOW - 1 * min), // not in L1
  ];
  const levels = new Map<number, LtxFileInfo[]>([[0, l0], [1, [file(1, 1n, 2n, NOW - min)]]]);
  const five = policy({ l0RetentionMs: 5 * min });
  assert.deepEqual(retentionOutlook(levels, NOW, five, [1]), {
    baseMovesAt: Infinity,
    l0DueAt: NOW + 3 * min,
    heldLevels: new Set(),
  });
  // At that moment filesToRemove does free it: the outlook names the time the verdict changes.
  assert.deepEqual(filesToRemove(levels, NOW + 3 * min, five, [1]).map((f) => f.maxTxid), [1n, 2n]);
  assert.deepEqual(filesToRemove(levels, NOW + 3 * min - 1, five, [1]).map((f) => f.maxTxid), [1n]);

  // Nothing compacted: L0 files wait for L1, not for time.
  const quiet = new Map<number, LtxFileInfo[]>([[0, [file(0, 1n, 1n, NOW - 10 * min)]]]);
  assert.deepEqual(retentionOutlook(quiet, NOW, five, [1]), {
    baseMovesAt: Infinity,
    l0DueAt: Infinity,
    heldLevels: new Set(),
  });

  // The oldest snapshot inside the window becomes the base when it leaves it.
  const snaps = new Map<number, LtxFileInfo[]>([[9, [
    file(9, 1n, 10n, NOW - 30 * HOUR),
    file(9, 1n, 20n, NOW - 20 * HOUR),
    file(9, 1n, 30n, NOW - 2 * HOUR),
  ]]]);
  const day = policy({ snapshotRetentionMs: DAY });
  assert.equal(retentionOutlook(snaps, NOW, day, []).baseMovesAt, NOW + 4 * HOUR);
  // At that moment the base moves up to TXID 20, and the L2 file it covers goes.
  snaps.set(2, [file(2, 1n, 15n, NOW - 25 * HOUR), file(2, 16n, 30n, NOW - HOUR)]);
  assert.deepEqual(filesToRemove(snaps, NOW + 4 * HOUR - 1, day, []).map((f) => [f.level, f.maxTxid]), []);
  assert.deepEqual(filesToRemove(snaps, NOW + 4 * HOUR, day, []).map((f) => [f.level, f.maxTxid]), [
    [9, 10n],
    [2, 15n],
  ]);
});

Deno.test("retentionOutlook: a covered newest file waits for the next file of its level", () => {
  const min = 60_000;
  const levels = new Map<number, LtxFileInfo[]>([
    [0, [file(0, 1n, 1n, NOW - 10 * min), file(0, 2n, 2n, NOW - 9 * min)]],
    [1, [file(1, 1n, 2n, NOW - 8 * min)]],
  ]);
  const five = policy({ l0RetentionMs: 5 * min });
  assert.deepEqual(retentionOutlook(levels, NOW, five, [1]).heldLevels, new Set([0]));
  // The next L0 file makes it removable.
  levels.get(0)!.push(file(0, 3n, 3n, NOW));
  assert.deepEqual(filesToRemove(levels, NOW, five, [1]).map((f) => f.maxTxid), [1n, 2n]);

  // A covered newest L0 file that is still young is not held yet: a next file would not free it before
  // it comes of age, which is when retention looks again.
  const young = new Map<number, LtxFileInfo[]>([
    [0, [file(0, 1n, 1n, NOW - 10 * min), file(0, 2n, 2n, NOW - 2 * min)]],
    [1, [file(1, 1n, 2n, NOW - min)]],
  ]);
  assert.deepEqual(retentionOutlook(young, NOW, five, [1]), {
    baseMovesAt: Infinity,
    l0DueAt: NOW + 3 * min,
    heldLevels: new Set(),
  });

  // A level's newest file that the base snapshot covers is held at that level only.
  const based = new Map<number, LtxFileInfo[]>([
    [2, [file(2, 1n, 5n, NOW - 3 * HOUR), file(2, 6n, 8n, NOW - 2 * HOUR)]],
    [3, [file(3, 1n, 20n, NOW - HOUR)]],
    [9, [file(9, 1n, 10n, NOW - 30 * HOUR)]],
  ]);
  assert.deepEqual(
    retentionOutlook(based, NOW, policy({ snapshotRetentionMs: DAY }), [1, 2, 3]).heldLevels,
    new Set([2]),
  );
});
