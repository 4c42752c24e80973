/**
 * `deno task chaos [-duration 30m] [-seed N]`: runs the chaos suite (driver.ts) and prints rounds, faults
 * injected, restores checked and failures; exits 1 on any failure.
 */
import { parseDuration } from "../../lib/util/duration.ts";
import { runChaos } from "./driver.ts";

const args = Deno.args;
const flag = (name: string) => {
  const i = args.findIndex((a) => a === `-${name}` || a === `--${name}`);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`-${name}=`))?.split("=")[1];
};
const durationMs = parseDuration(flag("duration") ?? "2m", "-duration");
const seed = Number(flag("seed") ?? Date.now() % 1e9);
console.log(`chaos: ${durationMs / 1000}s, seed ${seed}`);
const evidenceDir = flag("evidence");
// A signal ends the run after the current round, so servers and children are stopped, not orphaned.
const stop = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    console.log(`${sig}: finishing the current round`);
    stop.abort();
  });
}
const report = await runChaos({
  durationMs,
  seed,
  evidenceDir,
  signal: stop.signal,
  log: (line) => console.log(line),
});
console.log(`rounds: ${report.rounds}`);
console.log(`faults: ${Object.entries(report.faults).map(([k, v]) => `${k} ×${v}`).join(", ")}`);
console.log(`restores checked: ${report.restores}`);
console.log(`last committed transaction: ${report.lastCommitted}`);
console.log(`failures: ${report.failures.length}`);
for (const f of report.failures) console.log(`  ${f}`);
Deno.exit(report.failures.length === 0 ? 0 : 1);
