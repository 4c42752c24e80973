/**
 * `deno task bench [core|restore|levels|encryption|peers|all]...`: runs the benchmarks named (all by default) and
 * prints one table of figures, with ratios against the peer measured in the same run. Writes the table to
 * bench-results.md with machine facts.
 */
import { benchLag, benchRestore, type Figure } from "./core.ts";
import { benchLevelRestore, benchSnapshot } from "./levels.ts";
import { benchEncryption } from "./encryption.ts";
import { benchPeers, PEERS_NOTE } from "./peers.ts";

const named = new Set(Deno.args.length > 0 ? Deno.args : ["all"]);
const BENCHES = ["all", "core", "restore", "levels", "encryption", "peers"];
const unknown = [...named].filter((n) => !BENCHES.includes(n));
if (unknown.length > 0) {
  console.error(`walship bench: unknown benchmark "${unknown[0]}" (${BENCHES.join(", ")})`);
  Deno.exit(2);
}
const runs = (name: string) => named.has("all") || named.has(name);
const rows = Number(Deno.env.get("BENCH_ROWS") ?? 200_000);
const restoreMiB = Number(Deno.env.get("BENCH_RESTORE_MIB") ?? 1024);
const figures: Figure[] = [];
const notes: string[] = [];
try {
  if (runs("core")) figures.push(...await benchLag(rows, 200));
  if (runs("restore")) figures.push(...await benchRestore(restoreMiB));
  if (runs("levels")) {
    const sizes = (Deno.env.get("BENCH_SNAPSHOT_MIB") ?? "200,1024").split(",").map(Number);
    for (const mib of sizes) figures.push(...await benchSnapshot(mib));
    figures.push(...await benchLevelRestore());
  }
  if (runs("encryption")) {
    figures.push(...await benchEncryption(Number(Deno.env.get("BENCH_ENCRYPTION_BATCHES") ?? 240)));
  }
  if (runs("peers")) {
    figures.push(...await benchPeers());
    notes.push(PEERS_NOTE);
  }
} catch (err) {
  // A missing peer or a failed run: one line, not a stack trace.
  console.error(`walship bench: ${err instanceof Error ? err.message : err}`);
  Deno.exit(1);
}

const lines = [
  "| figure | walship | peer | ratio | target |",
  "| --- | --- | --- | --- | --- |",
  ...figures.map((f) => {
    const peer = f.peer ? `${f.peer.name} ${f.peer.value.toFixed(0)} ${f.unit}` : "";
    const ratio = f.peer ? (f.peer.value ? (f.value / f.peer.value).toFixed(2) + "×" : "n/a") : "";
    return `| ${f.name} | ${f.value.toFixed(f.unit === "ratio" ? 3 : 0)} ${f.unit} | ${peer} | ${ratio} | ${
      f.target ?? ""
    } |`;
  }),
];
const machine =
  `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, ` +
  `${new Date().toISOString()}`;
const table = `${lines.join("\n")}\n\nMachine: ${machine}\n${notes.map((n) => `\n${n}\n`).join("")}`;
console.log(table);
await Deno.writeTextFile("bench-results.md", `# walship benchmark results\n\n${table}`);
