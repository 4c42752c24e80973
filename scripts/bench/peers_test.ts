import assert from "node:assert/strict";
import { medianRun } from "./peers.ts";
import type { RunResult } from "./peer_run.ts";

const run = (cpuMs: number, extra: Partial<RunResult> = {}): RunResult => ({
  cpuMs,
  peakRssMiB: cpuMs / 10,
  lags: [cpuMs],
  storedBytes: 100,
  ...extra,
});

Deno.test("medianRun takes each figure's median over the rounds and keeps every round's lags", () => {
  const merged = medianRun([
    run(300, { throughMerge: { cpuMs: 900, peakRssMiB: 95 }, restoreMs: 50, cpMs: 5 }),
    run(100, { throughMerge: { cpuMs: 400, peakRssMiB: 90 }, restoreMs: 70, cpMs: 7 }),
    run(200, { throughMerge: { cpuMs: 500, peakRssMiB: 99 }, restoreMs: 60, cpMs: 6 }),
  ]);
  assert.equal(merged.cpuMs, 200);
  assert.equal(merged.peakRssMiB, 20);
  assert.deepEqual(merged.throughMerge, { cpuMs: 500, peakRssMiB: 95 });
  assert.equal(merged.restoreMs, 60);
  assert.equal(merged.cpMs, 6);
  assert.deepEqual(merged.lags, [300, 100, 200]);
  assert.equal("putsPerHour" in merged, false, "a figure no round has stays absent");
});

Deno.test("medianRun of one round is that round", () => {
  const only = run(123, { putsPerHour: 10, listsPerHour: 2 });
  assert.deepEqual(medianRun([only]), only);
});
