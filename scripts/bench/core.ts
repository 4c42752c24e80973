/**
 * Replication core benchmark: replication lag and walship's peak RSS under a steady write load, and
 * restore time of a large database from a file replica against `cp` of the same file.
 * Figures, not assertions: run with `deno task bench` and read the table.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { decodeHeader } from "../../lib/ltx/header.ts";
import { readPageMap, readWalHeader } from "../../lib/sqlite/mod.ts";
import { walshipArgs } from "../../tests/helpers/cli.ts";
import { installLitestream } from "./peer_tools.ts";

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** What it is compared against, measured in the same run. */
  peer?: { name: string; value: number };
  target?: string;
}

function walship(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: walshipArgs(args),
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Peak resident memory of a live process, read by `cat` (Deno lets only -A read another /proc/PID). */
function peakRssKiB(pid: number): number {
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/status`], stdout: "piped", stderr: "null" })
    .outputSync();
  return Number(/VmHWM:\s+(\d+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? 0);
}

/** The deepest descendant: the real Deno process, whatever wraps it. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Commit {
  at: number;
  salt1: number;
  end: number;
}

/** Steady writes: `rows` 1 KB random rows in 100-row transactions, ~`txPerSecond`. */
export async function benchLag(rows: number, txPerSecond: number, syncIntervalMs = 1000): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "walship-bench-lag-" });
  const dbPath = join(dir, "app.db");
  const replicaDir = join(dir, "replica");
  const app = new DatabaseSync(dbPath, { timeout: 10_000 });
  app.exec("PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  const child = walship([
    "replicate",
    "-sync-interval",
    `${syncIntervalMs}ms`,
    dbPath,
    `file://${replicaDir}`,
  ]);
  await new Promise((r) => setTimeout(r, 1000));
  const commits: Commit[] = [];
  const durable = new Map<string, number>(); // "salt1:end" of each shipped L0 -> time first seen
  const seenFiles = new Set<string>();
  const poll = setInterval(() => {
    try {
      for (const entry of Deno.readDirSync(join(replicaDir, "ltx/0"))) {
        if (!entry.name.endsWith(".ltx") || seenFiles.has(entry.name)) continue;
        seenFiles.add(entry.name);
        const head = new Uint8Array(100);
        using f = Deno.openSync(join(replicaDir, "ltx/0", entry.name));
        f.readSync(head);
        const h = decodeHeader(head);
        durable.set(`${h.walSalt1}:${h.walOffset + h.walSize}`, Date.now());
      }
    } catch { /* level directory not created yet */ }
  }, 10);
  const insert = app.prepare("INSERT INTO t(v) VALUES (randomblob(1000))");
  const wal = dbPath + "-wal";
  const txns = Math.ceil(rows / 100);
  let lastSalt1 = -1;
  let lastEnd = 32;
  const started = Date.now();
  for (let i = 0; i < txns; i++) {
    app.exec("BEGIN");
    for (let r = 0; r < 100; r++) insert.run();
    app.exec("COMMIT");
    const at = Date.now();
    // Where this commit ends in the WAL (the file may hold stale frames past it after a restart).
    using f = await Deno.open(wal);
    const header = (await readWalHeader(f))!;
    if (header.salt1 !== lastSalt1) lastEnd = 32;
    lastEnd = (await readPageMap(f, header, { offset: lastEnd })).endOffset;
    lastSalt1 = header.salt1;
    commits.push({ at, salt1: header.salt1, end: lastEnd });
    const due = started + ((i + 1) * 1000) / txPerSecond;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await new Promise((r) => setTimeout(r, syncIntervalMs * 2 + 500));
  clearInterval(poll);
  const peakRss = peakRssKiB(child.pid);
  child.kill("SIGTERM");
  await child.status;
  app.close();
  // A commit is durable once an L0 of its WAL generation reaching its end offset, or of a later one, is shipped.
  const shipped = [...durable.entries()].map(([k, at]) => ({
    salt1: Number(k.split(":")[0]),
    end: Number(k.split(":")[1]),
    at,
  }));
  const lags: number[] = [];
  for (const c of commits) {
    const first = shipped.filter((s) => (s.salt1 === c.salt1 && s.end >= c.end) || s.salt1 - c.salt1 > 0)
      .reduce((m, s) => Math.min(m, s.at), Infinity);
    if (Number.isFinite(first)) lags.push(first - c.at);
  }
  await Deno.remove(dir, { recursive: true });
  const target = `≤ ${syncIntervalMs + 100} ms`;
  return [
    { name: `lag p50 (${rows} rows, ${txPerSecond} tx/s)`, value: percentile(lags, 50), unit: "ms", target },
    { name: `lag p99 (${rows} rows, ${txPerSecond} tx/s)`, value: percentile(lags, 99), unit: "ms", target },
    { name: "commits measured / committed", value: lags.length / commits.length, unit: "ratio" },
    { name: "walship peak RSS during writes", value: peakRss / 1024, unit: "MiB", target: "≤ 100 MiB" },
  ];
}

/** A checkpointed WAL-mode database of about `sizeMiB`: half random (incompressible), half repetitive text. */
export function makeBigDatabase(dir: string, sizeMiB: number): string {
  const dbPath = join(dir, "big.db");
  const db = new DatabaseSync(dbPath);
  db.exec("PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  const insert = db.prepare("INSERT INTO t(v) VALUES (?)");
  const text = new TextEncoder().encode("customer order shipped ".repeat(44).slice(0, 1000));
  db.exec("BEGIN");
  for (let i = 0; i < sizeMiB * 1024; i++) {
    insert.run(i % 2 ? crypto.getRandomValues(new Uint8Array(1000)) : text);
  }
  db.exec("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return dbPath;
}

/** Median of three runs of a command, in ms; `clean` runs before each. */
export async function timeCommand(cmd: string[], clean: () => Promise<void>, env?: Record<string, string>) {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    await clean();
    new Deno.Command("sync").outputSync();
    const t0 = performance.now();
    const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), env, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    runs.push(performance.now() - t0);
  }
  return percentile(runs, 50);
}

/** Peak RSS in MiB of one run of a command, by /usr/bin/time. */
export async function peakRssOf(cmd: string[], env?: Record<string, string>): Promise<number> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", ...cmd],
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  return Number(new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)) / 1024;
}

/** Restores a database of about `sizeMiB` from a file replica and copies the same file with cp. */
export async function benchRestore(sizeMiB: number): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "walship-bench-restore-" });
  const dbPath = makeBigDatabase(dir, sizeMiB);
  const replica = `file://${join(dir, "replica")}`;
  await walship(["replicate", "-once", dbPath, replica]).status;
  const bytes = (await Deno.stat(dbPath)).size;
  const out = join(dir, "out.db");
  const restoreCmd = [Deno.execPath(), ...walshipArgs(["restore", "-o", out, replica])];
  const removeOut = () => Deno.remove(out).catch(() => {});
  const cp = await timeCommand(
    ["cp", dbPath, join(dir, "copy.db")],
    () => Deno.remove(join(dir, "copy.db")).catch(() => {}),
  );
  // Restore fsyncs its output (a restored database must survive a crash); cp does not, so the fair
  // physical limit is cp followed by an fsync of the copy.
  const cpSync = await timeCommand(
    ["sh", "-c", `cp "$0" "$1" && sync "$1"`, dbPath, join(dir, "copy.db")],
    () => Deno.remove(join(dir, "copy.db")).catch(() => {}),
  );
  const restore = await timeCommand(restoreCmd, removeOut);
  await removeOut();
  const peak = await peakRssOf(restoreCmd);
  const litestream = await litestreamRestoreMs(dir, dbPath);
  await Deno.remove(dir, { recursive: true });
  return [
    {
      name: `restore ${(bytes / 2 ** 20).toFixed(0)} MiB from file://`,
      value: restore,
      unit: "ms",
      peer: { name: "cp", value: cp },
      target: "≤ 1.5× cp",
    },
    {
      name: `restore ${(bytes / 2 ** 20).toFixed(0)} MiB from file://, against cp + fsync`,
      value: restore,
      unit: "ms",
      peer: { name: "cp+fsync", value: cpSync },
    },
    {
      name: `restore ${(bytes / 2 ** 20).toFixed(0)} MiB from file://, against Litestream v0.3.13`,
      value: restore,
      unit: "ms",
      peer: { name: "Litestream", value: litestream },
      target: "≤ 0.8× Litestream",
    },
    { name: "restore peak RSS", value: peak, unit: "MiB", target: "≤ 100 MiB" },
  ];
}

/** Replicates a copy of the database with Litestream into a file replica, then times its restore. */
async function litestreamRestoreMs(dir: string, dbPath: string): Promise<number> {
  const binary = await installLitestream();
  const source = join(dir, "litestream.db");
  await Deno.copyFile(dbPath, source);
  const replica = join(dir, "litestream-replica");
  const config = join(dir, "litestream.yml");
  await Deno.writeTextFile(
    config,
    `dbs:\n  - path: ${source}\n    replicas:\n      - type: file\n        path: ${replica}\n`,
  );
  const child = new Deno.Command(binary, {
    args: ["replicate", "-config", config],
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Its file replica renames a snapshot into place once complete.
  const hasSnapshot = () => {
    try {
      for (const generation of Deno.readDirSync(join(replica, "generations"))) {
        for (const f of Deno.readDirSync(join(replica, "generations", generation.name, "snapshots"))) {
          if (f.name.endsWith(".snapshot.lz4")) return true;
        }
      }
    } catch { /* not created yet */ }
    return false;
  };
  while (!hasSnapshot()) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2000));
  child.kill("SIGTERM");
  await child.status;
  const out = join(dir, "litestream-out.db");
  return await timeCommand(
    [binary, "restore", "-config", config, "-o", out, source],
    () => Deno.remove(out).catch(() => {}),
  );
}
