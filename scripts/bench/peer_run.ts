/**
 * One run of the peer benchmarks: one replicator, one workload, one replica. Starts the replicator on a
 * fresh database, waits for its first replica file, then measures over the workload window its CPU time,
 * peak RSS, request counts and the lag of every commit; stops it, sums the bytes stored, and (steady
 * workload) times restores of the replica and a `cp` of the restored file.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Commit, WriterOptions } from "./peer_writer.ts";
import type { CommandLine, Tool } from "./peer_tools.ts";
import type { PeerServers, ReplicaKind } from "./peer_targets.ts";
import { type ProcessStats, processStats } from "./proc_stats.ts";
import { commitLags, ReachWatcher } from "./replica_coverage.ts";

export type Workload = "steady" | "bursty" | "idle";

export interface RunSettings {
  rows: number;
  txPerSecond: number;
  bursts: number;
  pauseMs: number;
  idleSeconds: number;
  restoreRuns: number;
  pollMs: number;
}

export interface RunResult {
  cpuMs: number;
  peakRssMiB: number;
  /**
   * Writes only: CPU and peak RSS from the window's start until the replicator goes quiet after the first
   * level-1 boundary past the window, so walship's merge of the window's files counts in every run.
   */
  throughMerge?: { cpuMs: number; peakRssMiB: number };
  /** Per commit, ms from COMMIT to the replica holding it; NaN where never seen. */
  lags: number[];
  putsPerHour?: number;
  listsPerHour?: number;
  storedBytes: number;
  restoreMs?: number;
  cpMs?: number;
}

const WRITER = new URL("./peer_writer.ts", import.meta.url).pathname;
const IDLE_ROWS = 1000;
const READY_TIMEOUT_MS = 60_000;
/**
 * An idle window opens this long after the first replica file: past walship's first level-1 boundary
 * (every 30 s) and the listings after it, so the window measures a replicator at rest, not the tail of its
 * start, which fell inside the window in some runs and not in others. Both tools wait alike.
 */
const IDLE_SETTLE_MS = 35_000;
const SETTLE_TIMEOUT_MS = 30_000;
/** walship's level-1 interval: its boundaries are aligned to the wall clock. */
const LEVEL1_INTERVAL_MS = 30_000;
/** A second with less CPU than this counts as quiet (both tools idle at 1-2 ms a second). */
const QUIET_CPU_MS_PER_S = 30;
/** Quiet seconds in a row that end the wait: longer than a dozing walship sleeps (5 s) before its merge. */
const QUIET_SECONDS = 6;
const QUIET_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 20_000;
const RESTORE_TIMEOUT_MS = 600_000;

/** Children of every run, so an interrupted bench can kill what it started. */
export const liveChildren = new Set<Deno.ChildProcess>();

export async function runOnce(
  tool: Tool,
  target: { servers: PeerServers; kind: ReplicaKind; workload: Workload; root: string },
  settings: RunSettings,
): Promise<RunResult> {
  const { kind, workload } = target;
  const dir = await Deno.makeTempDir({ dir: target.root, prefix: `${tool.name}-${workload}-${kind}-` });
  const dbPath = join(dir, "app.db");
  createDatabase(dbPath, workload === "idle" ? IDLE_ROWS : 0);
  const replica = await target.servers.target(kind, dir);
  const watcher = new ReachWatcher(
    replica.reader,
    tool.decoder(),
    workload === "idle" ? 500 : settings.pollMs,
  );
  let replicator: Replicator | undefined;
  try {
    replicator = spawnReplicator(await tool.replicate(dbPath, replica.viaProxy, dir));
    watcher.start();
    await waitUntil(() => watcher.objectCount > 0 || replicator!.exited, READY_TIMEOUT_MS);
    if (watcher.objectCount === 0) throw new Error(`${tool.name} shipped nothing:\n${replicator.log()}`);
    await sleep(workload === "idle" ? IDLE_SETTLE_MS : 1500); // let the first sync finish before the window opens
    const before = processStats(replicator.child.pid);
    const countsBefore = replica.counts();
    const opened = Date.now();
    let commits: Commit[] = [];
    if (workload === "idle") {
      await sleep(settings.idleSeconds * 1000);
    } else {
      commits = await write(dir, dbPath, workload, settings);
      await waitUntil(() => watcher.covers(commits), SETTLE_TIMEOUT_MS);
    }
    const windowMs = Date.now() - opened;
    const after = processStats(replicator.child.pid);
    const countsAfter = replica.counts();
    const throughMerge = workload === "idle" ? undefined : await quietAfterNextBoundary(replicator.child.pid);
    await replicator.stop();
    await watcher.stop();
    const result: RunResult = {
      cpuMs: after.cpuMs - before.cpuMs,
      peakRssMiB: after.peakRssMiB,
      ...(throughMerge
        ? { throughMerge: { cpuMs: throughMerge.cpuMs - before.cpuMs, peakRssMiB: throughMerge.peakRssMiB } }
        : {}),
      lags: commitLags(commits, watcher.reaches),
      storedBytes: (await replica.reader.list()).reduce((n, o) => n + o.sizeBytes, 0),
    };
    if (countsBefore && countsAfter) {
      const perHour = (n: number) => (n * 3_600_000) / windowMs;
      result.putsPerHour = perHour((countsAfter.byMethod.PUT ?? 0) - (countsBefore.byMethod.PUT ?? 0));
      result.listsPerHour = perHour(countsAfter.lists - countsBefore.lists);
    }
    if (workload === "steady") {
      const out = join(dir, "restored.db");
      const line = await tool.restore(dbPath, replica.direct, out, dir);
      result.restoreMs = await timeRestore(line, out, settings.restoreRuns, commits.length * 100);
      result.cpMs = await timeCp(out, join(dir, "copy.db"), settings.restoreRuns);
    }
    return result;
  } finally {
    await replicator?.stop();
    await watcher.stop();
    replica.reader.close();
    await replica.dispose();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function createDatabase(dbPath: string, rows: number): void {
  const db = new DatabaseSync(dbPath);
  db.exec("PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  if (rows > 0) {
    db.exec(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) ` +
        "INSERT INTO t(v) SELECT randomblob(1000) FROM n",
    );
  }
  db.close();
}

interface Replicator {
  child: Deno.ChildProcess;
  readonly exited: boolean;
  /** The end of its output, for error messages. */
  log(): string;
  /** SIGTERM, then SIGKILL if it has not exited in time; safe to call twice. */
  stop(): Promise<void>;
}

function spawnReplicator(line: CommandLine): Replicator {
  const child = new Deno.Command(line.cmd, {
    args: line.args,
    env: line.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  liveChildren.add(child);
  let tail = "";
  const keep = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) tail = (tail + text).slice(-4000);
  };
  const drained = Promise.all([keep(child.stdout), keep(child.stderr)]).catch(() => {});
  let exited = false;
  const status = child.status.then(() => {
    exited = true;
    liveChildren.delete(child);
  });
  return {
    child,
    get exited() {
      return exited;
    },
    log: () => tail,
    async stop() {
      if (!exited) signal(child, "SIGTERM");
      const timer = setTimeout(() => signal(child, "SIGKILL"), STOP_TIMEOUT_MS);
      await status;
      clearTimeout(timer);
      await drained;
    },
  };
}

function signal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // already exited
  }
}

/** Runs the writer process and returns its commit log. */
async function write(
  dir: string,
  dbPath: string,
  mode: "steady" | "bursty",
  s: RunSettings,
): Promise<Commit[]> {
  const outPath = join(dir, "commits.json");
  const options: WriterOptions = {
    dbPath,
    outPath,
    rows: s.rows,
    mode,
    txPerSecond: s.txPerSecond,
    bursts: s.bursts,
    pauseMs: s.pauseMs,
  };
  const expectedMs = mode === "steady" ? (s.rows / 100 / s.txPerSecond) * 1000 : s.bursts * s.pauseMs;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--allow-read=${dir}`, `--allow-write=${dir}`, WRITER, JSON.stringify(options)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(expectedMs * 3 + 120_000),
  }).output();
  if (!out.success) throw new Error(`writer failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(await Deno.readTextFile(outPath)) as Commit[];
}

/** Median wall time of `runs` restores; the first result must hold every row written. */
async function timeRestore(
  line: CommandLine,
  out: string,
  runs: number,
  expectedRows: number,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    await removeDatabase(out);
    await new Deno.Command("sync").output();
    const t0 = performance.now();
    const result = await new Deno.Command(line.cmd, {
      args: line.args,
      env: line.env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(RESTORE_TIMEOUT_MS),
    }).output();
    times.push(performance.now() - t0);
    if (!result.success) throw new Error(`restore failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  const db = new DatabaseSync(out, { readOnly: true });
  const { n } = db.prepare("SELECT count(*) AS n FROM t").get() as { n: number };
  db.close();
  if (n !== expectedRows) throw new Error(`restore holds ${n} rows, expected ${expectedRows}`);
  return median(times);
}

async function timeCp(from: string, to: string, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    await Deno.remove(to).catch(() => {});
    await new Deno.Command("sync").output();
    const t0 = performance.now();
    const result = await new Deno.Command("cp", { args: [from, to] }).output();
    times.push(performance.now() - t0);
    if (!result.success) throw new Error("cp failed");
  }
  return median(times);
}

async function removeDatabase(path: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm", ".tmp"]) await Deno.remove(path + suffix).catch(() => {});
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * Waits for the first level-1 boundary after now, then until the process has had QUIET_SECONDS quiet
 * seconds in a row, and returns its stats then. The window of a write workload ends when the last commit
 * is seen, and whether walship's 30 s merge fell inside it was luck (18 s windows: 60% of runs); this
 * counts it in every run. The rule knows nothing of the tool, so Litestream waits alike (and is quiet at
 * once).
 */
async function quietAfterNextBoundary(pid: number): Promise<ProcessStats> {
  await sleep(LEVEL1_INTERVAL_MS - (Date.now() % LEVEL1_INTERVAL_MS) + 500);
  const deadline = Date.now() + QUIET_TIMEOUT_MS;
  let last = processStats(pid);
  for (let quiet = 0; quiet < QUIET_SECONDS && Date.now() < deadline;) {
    await sleep(1000);
    const now = processStats(pid);
    quiet = now.cpuMs - last.cpuMs < QUIET_CPU_MS_PER_S ? quiet + 1 : 0;
    last = now;
  }
  return last;
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(100);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
