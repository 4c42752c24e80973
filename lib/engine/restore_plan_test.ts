import assert from "node:assert/strict";
import { NoBackupError, planFromListings } from "./restore_plan.ts";
import type { LtxFileInfo } from "../storage/store.ts";

function f(level: number, min: number, max: number, createdAt = max * 1000): LtxFileInfo {
  return { level, minTxid: BigInt(min), maxTxid: BigInt(max), sizeBytes: 200, createdAt };
}

function levels(...files: LtxFileInfo[]): Map<number, LtxFileInfo[]> {
  const m = new Map<number, LtxFileInfo[]>();
  for (const file of files) m.set(file.level, [...(m.get(file.level) ?? []), file]);
  return m;
}

const names = (plan: LtxFileInfo[]) => plan.map((x) => `L${x.level}:${x.minTxid}-${x.maxTxid}`);

Deno.test("planFromListings() takes the snapshot, then the longest files across levels", () => {
  const l = levels(
    f(9, 1, 5),
    f(1, 6, 7),
    f(1, 8, 9),
    f(0, 6, 6),
    f(0, 7, 7),
    f(0, 8, 8),
    f(0, 9, 9),
    f(0, 10, 10),
  );
  assert.deepEqual(names(planFromListings(l, { txid: 10n })), ["L9:1-5", "L1:6-7", "L1:8-9", "L0:10-10"]);
});

Deno.test("planFromListings() prefers one long file over many short ones", () => {
  const l = levels(f(9, 1, 5), f(0, 6, 20), f(1, 6, 10), f(1, 11, 15));
  assert.deepEqual(names(planFromListings(l, {})), ["L9:1-5", "L0:6-20"]);
});

Deno.test("planFromListings() fills a gap in one level from a lower level", () => {
  const l = levels(f(1, 1, 5), f(1, 8, 10), f(0, 6, 6), f(0, 7, 7), f(0, 8, 8));
  assert.deepEqual(names(planFromListings(l, {})), ["L1:1-5", "L0:6-6", "L0:7-7", "L1:8-10"]);
});

Deno.test("planFromListings() accepts overlapping files within a level", () => {
  const l = levels(f(9, 1, 5), f(2, 1, 100), f(0, 6, 6));
  assert.deepEqual(names(planFromListings(l, {})), ["L9:1-5", "L2:1-100"]);
});

Deno.test("planFromListings() stops at a TXID and at a timestamp (strictly before)", () => {
  const l = levels(f(0, 1, 1, 1000), f(0, 2, 2, 2000), f(0, 3, 3, 3000));
  assert.deepEqual(names(planFromListings(l, { txid: 2n })), ["L0:1-1", "L0:2-2"]);
  assert.deepEqual(names(planFromListings(l, { timestamp: 3000 })), ["L0:1-1", "L0:2-2"]);
  assert.deepEqual(names(planFromListings(l, { timestamp: 3001 })), ["L0:1-1", "L0:2-2", "L0:3-3"]);
});

Deno.test("planFromListings() names the missing range of a gap", () => {
  const l = levels(f(0, 1, 1), f(0, 2, 2), f(0, 5, 5));
  assert.throws(() => planFromListings(l, {}), /missing 0000000000000003-0000000000000004/);
});

Deno.test("planFromListings() reports an empty replica or an unreachable TXID", () => {
  assert.throws(() => planFromListings(new Map(), {}), NoBackupError);
  assert.throws(() => planFromListings(levels(f(0, 1, 1)), { txid: 3n }), NoBackupError);
  assert.throws(() => planFromListings(levels(f(0, 1, 1, 5000)), { timestamp: 4000 }), NoBackupError);
});
