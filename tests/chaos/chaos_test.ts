/** The two-minute chaos run CI does (`deno task chaos -duration 30m` is the long one). */
import assert from "node:assert/strict";
import { runChaos } from "./driver.ts";

Deno.test("chaos: two minutes of kills, storage faults, checkpoints and VACUUM lose nothing", async () => {
  const seed = Number(Deno.env.get("CHAOS_SEED") ?? Date.now() % 1e9);
  const report = await runChaos({ durationMs: 120_000, seed });
  const summary = `seed ${seed}: ${report.rounds} rounds, ${report.restores} restores, ` +
    `faults ${JSON.stringify(report.faults)}, last transaction ${report.lastCommitted}`;
  assert.deepEqual(report.failures, [], summary);
  assert.ok(report.rounds >= 5, summary);
  assert.ok(report.lastCommitted > 1000, summary);
  assert.ok((report.faults["SIGKILL walship"] ?? 0) > 0, summary);
});
