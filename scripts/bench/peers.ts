/**
 * `deno task bench peers`: walship against Litestream v0.3.13 on the same workloads in the same run —
 * steady writes, bursts, an idle database — to file://, s3rver and Azurite. Figures per tool: replicator
 * CPU time and peak RSS over the workload window, commit-to-replica lag p50/p99, PUT and LIST requests per
 * hour, bytes stored, and restore wall time (also against `cp` of the restored file). Knobs: BENCH_ROWS
 * (200000), BENCH_TX_PER_SECOND (200), BENCH_BURSTS (4), BENCH_BURST_PAUSE_MS (4000), BENCH_IDLE_SECONDS
 * (120), BENCH_RESTORE_RUNS (3), BENCH_POLL_MS (25), BENCH_PEER_REPLICAS (file,s3,abs),
 * BENCH_PEER_WORKLOADS (steady,bursty,idle), BENCH_PEER_ROUNDS (1: every run again, the figures are medians).
 */
import type { Figure } from "./core.ts";
import { installLitestream, litestreamTool, type Tool, walshipTool } from "./peer_tools.ts";
import { PeerServers, type ReplicaKind } from "./peer_targets.ts";
import { liveChildren, runOnce, type RunResult, type RunSettings, type Workload } from "./peer_run.ts";
import { percentile } from "./replica_coverage.ts";

/** How the figures are taken, for the results file. */
export const PEERS_NOTE =
  `Peers (walship vs Litestream v0.3.13, same workload, one tool at a time; idle runs side by side):
- CPU = utime+stime of the replicator process over the workload window (from its first replica file + 1.5 s
  until every commit is seen in the replica), from /proc/PID/stat; RSS = VmHWM at the end of the window.
  "Through the next L1 merge" (writes only): the same from the window's start until the replicator has had
  6 quiet seconds (< 30 ms CPU each) after the first 30 s wall-clock boundary past the window, so walship's
  level-1 merge of the window's files counts in every run, not only when it fell inside the window.
  An idle window opens 35 s after the first replica file (past walship's first 30 s level-1 boundary), so it
  measures rest rather than the tail of the start.
- Lag = time from COMMIT returning in a separate writer process to the first poll (every BENCH_POLL_MS) that
  lists a replica file reaching that commit's WAL end: walship L0 headers (walSalt1, walOffset+walSize),
  Litestream segment names (index, offset) + decompressed length, salt from each index's first segment.
  Overstated by up to one poll and one listing, equally for both tools.
- PUT/LIST per hour = requests counted by a pass-through proxy over the window, scaled to an hour.
- Restore = median wall time of BENCH_RESTORE_RUNS restores of the latest state, direct to the server;
  cp copies the restored file. Stored = bytes in the replica after the replicator stopped.
- With BENCH_PEER_ROUNDS > 1 every run is repeated: each figure is the median of the rounds, and the lag
  percentiles are taken over the commits of all rounds.
- The machine is shared: other jobs add noise to every figure.`;

export async function benchPeers(): Promise<Figure[]> {
  const settings: RunSettings = {
    rows: envNumber("BENCH_ROWS", 200_000),
    txPerSecond: envNumber("BENCH_TX_PER_SECOND", 200),
    bursts: envNumber("BENCH_BURSTS", 4),
    pauseMs: envNumber("BENCH_BURST_PAUSE_MS", 4000),
    idleSeconds: envNumber("BENCH_IDLE_SECONDS", 120),
    restoreRuns: envNumber("BENCH_RESTORE_RUNS", 3),
    pollMs: envNumber("BENCH_POLL_MS", 25),
  };
  // Figures of the same code move by a quarter from run to run on these machines: rounds give medians.
  const rounds = envNumber("BENCH_PEER_ROUNDS", 1);
  const kinds = envList("BENCH_PEER_REPLICAS", ["file", "s3", "abs"]) as ReplicaKind[];
  const workloads = envList("BENCH_PEER_WORKLOADS", ["steady", "bursty", "idle"]) as Workload[];
  const tools = [walshipTool(), litestreamTool(await installLitestream())];
  const root = await Deno.makeTempDir({ prefix: "walship-bench-peers-" });
  const servers = await PeerServers.start(kinds);
  // Interrupted or killed: leave no replicator, server or temp dir behind.
  const onSignal = () => {
    killAll();
    servers.kill();
    try {
      Deno.removeSync(root, { recursive: true });
    } finally {
      Deno.exit(130);
    }
  };
  for (const sig of SIGNALS) Deno.addSignalListener(sig, onSignal);
  const results = new Map<string, RunResult[]>();
  const record = (k: string, result: RunResult) => results.set(k, [...(results.get(k) ?? []), result]);
  try {
    for (let round = 0; round < rounds; round++) {
      for (const workload of workloads.filter((w) => w !== "idle")) {
        for (const [i, kind] of kinds.entries()) {
          // Alternate who goes first, so a drift in machine load does not always favour the same tool.
          for (const tool of (i + round) % 2 ? [...tools].reverse() : tools) {
            const started = Date.now();
            const result = await runOnce(tool, { servers, kind, workload, root }, settings);
            record(key(workload, kind, tool), result);
            progress(workload, kind, tool, result, Date.now() - started);
          }
        }
      }
      if (workloads.includes("idle")) {
        const runs = kinds.flatMap((kind) => tools.map((tool) => ({ kind, tool })));
        const done = await Promise.all(
          runs.map(({ kind, tool }) => runOnce(tool, { servers, kind, workload: "idle", root }, settings)),
        );
        runs.forEach(({ kind, tool }, i) => {
          record(key("idle", kind, tool), done[i]!);
          progress("idle", kind, tool, done[i]!, settings.idleSeconds * 1000);
        });
      }
    }
  } finally {
    for (const sig of SIGNALS) Deno.removeSignalListener(sig, onSignal);
    killAll();
    await servers.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  return workloads.flatMap((workload) =>
    kinds.flatMap((kind) => {
      const ours = results.get(key(workload, kind, tools[0]!));
      const theirs = results.get(key(workload, kind, tools[1]!));
      return ours && theirs ? figuresOf(workload, kind, medianRun(ours), medianRun(theirs), settings) : [];
    })
  );
}

function figuresOf(
  workload: Workload,
  kind: ReplicaKind,
  ours: RunResult,
  theirs: RunResult,
  settings: RunSettings,
): Figure[] {
  const label = `${workload} ${kind === "file" ? "file://" : kind === "s3" ? "s3rver" : "Azurite"}`;
  const pair = (name: string, unit: string, value: (r: RunResult) => number | undefined, target?: string) => {
    const a = value(ours);
    const b = value(theirs);
    if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) return [];
    const figure: Figure = {
      name: `${label}: ${name}`,
      value: a,
      unit,
      peer: { name: "Litestream", value: b },
    };
    if (target) figure.target = target;
    return [figure];
  };
  const out = [
    ...pair("replicator CPU", "ms", (r) => r.cpuMs, "≤ 0.8×"),
    ...pair("peak RSS", "MiB", (r) => r.peakRssMiB, "≤ 100 MiB"),
    ...pair("replicator CPU through the next L1 merge", "ms", (r) => r.throughMerge?.cpuMs, "≤ 0.8×"),
    ...pair("peak RSS through the next L1 merge", "MiB", (r) => r.throughMerge?.peakRssMiB, "≤ 100 MiB"),
  ];
  if (workload !== "idle") {
    const seen = (r: RunResult) => r.lags.filter(Number.isFinite).length / r.lags.length;
    const partial = seen(ours) < 1 || seen(theirs) < 1
      ? ` (commits seen: ${(seen(ours) * 100).toFixed(1)}% / ${(seen(theirs) * 100).toFixed(1)}%)`
      : "";
    out.push(...pair(`lag p50${partial}`, "ms", (r) => percentile(r.lags, 50)));
    out.push(
      ...pair(
        `lag p99${partial}`,
        "ms",
        (r) => percentile(r.lags, 99),
        workload === "steady" ? "≤ 1100 ms" : undefined,
      ),
    );
  }
  out.push(...pair("PUT requests / hour", "", (r) => r.putsPerHour));
  out.push(...pair("LIST requests / hour", "", (r) => r.listsPerHour));
  if (workload === "steady") {
    out.push(...pair("stored", "MiB", (r) => r.storedBytes / 2 ** 20));
    out.push(...pair(`restore (${settings.rows} rows)`, "ms", (r) => r.restoreMs, "≤ 0.8×"));
    if (ours.restoreMs !== undefined && ours.cpMs !== undefined) {
      out.push({
        name: `${label}: restore vs cp of the restored file`,
        value: ours.restoreMs,
        unit: "ms",
        peer: { name: "cp", value: ours.cpMs },
        target: "≤ 1.5×",
      });
    }
  }
  return out;
}

/** One result of several rounds of the same run: the median of each figure, and every round's commit lags. */
export function medianRun(runs: RunResult[]): RunResult {
  const median = (value: (r: RunResult) => number | undefined): number | undefined => {
    const values = runs.map(value).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : percentile(values, 50);
  };
  const merged: RunResult = {
    cpuMs: median((r) => r.cpuMs)!,
    peakRssMiB: median((r) => r.peakRssMiB)!,
    lags: runs.flatMap((r) => r.lags),
    storedBytes: median((r) => r.storedBytes)!,
  };
  const mergeCpu = median((r) => r.throughMerge?.cpuMs);
  const mergeRss = median((r) => r.throughMerge?.peakRssMiB);
  if (mergeCpu !== undefined && mergeRss !== undefined) {
    merged.throughMerge = { cpuMs: mergeCpu, peakRssMiB: mergeRss };
  }
  const optional = ["putsPerHour", "listsPerHour", "restoreMs", "cpMs"] as const;
  for (const field of optional) {
    const value = median((r) => r[field]);
    if (value !== undefined) merged[field] = value;
  }
  return merged;
}

const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function killAll(): void {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }
}

function key(workload: Workload, kind: ReplicaKind, tool: Tool): string {
  return `${workload}/${kind}/${tool.name}`;
}

function progress(workload: Workload, kind: ReplicaKind, tool: Tool, r: RunResult, elapsedMs: number): void {
  const seen = r.lags.filter(Number.isFinite).length;
  const parts = [
    `cpu ${r.cpuMs.toFixed(0)} ms`,
    `rss ${r.peakRssMiB.toFixed(0)} MiB`,
    ...(r.throughMerge
      ? [
        `through merge: cpu ${r.throughMerge.cpuMs.toFixed(0)} ms, rss ${
          r.throughMerge.peakRssMiB.toFixed(0)
        } MiB`,
      ]
      : []),
    r.lags.length
      ? `lag p50/p99 ${percentile(r.lags, 50)}/${percentile(r.lags, 99)} ms (${seen}/${r.lags.length})`
      : "",
    r.putsPerHour !== undefined
      ? `PUT/h ${r.putsPerHour.toFixed(0)} LIST/h ${r.listsPerHour?.toFixed(0)}`
      : "",
    `stored ${(r.storedBytes / 2 ** 20).toFixed(1)} MiB`,
    r.restoreMs !== undefined ? `restore ${r.restoreMs.toFixed(0)} ms (cp ${r.cpMs?.toFixed(0)} ms)` : "",
  ].filter(Boolean);
  console.error(
    `peers ${workload} ${kind} ${tool.name} [${(elapsedMs / 1000).toFixed(0)} s]: ${parts.join(", ")}`,
  );
}

function envNumber(name: string, fallback: number): number {
  const value = Number(Deno.env.get(name) ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function envList(name: string, fallback: string[]): string[] {
  return Deno.env.get(name)?.split(",").map((s) => s.trim()).filter(Boolean) ?? fallback;
}
