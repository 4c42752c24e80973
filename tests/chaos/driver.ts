/**
 * The chaos driver: a writer commits numbered transactions while walship replicates to a file replica,
 * an S3 server and Azurite (both behind fault proxies); rounds of faults (SIGKILL and restart, 5xx,
 * SlowDown, resets, stalls, foreign checkpoints of every mode, VACUUM) are each followed by restores
 * (latest, a TXID, a time) that must hold exactly transactions 1..N, and by restores of deliberately
 * damaged replica copies that must fail naming the file or still be right. A clean shutdown at the end
 * must leave every replica at the last committed transaction.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { defaultMetaPath } from "../../lib/engine/local_store.ts";
import { startAzurite } from "../helpers/azurite.ts";
import { walshipCommand } from "../helpers/cli.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault_proxy.ts";
import { startS3Server } from "../helpers/s3_server.ts";
import { vacuumInChild } from "../helpers/vacuum.ts";
import { SCHEMA, verifyPrefix } from "./verify.ts";

export interface ChaosOptions {
  durationMs: number;
  seed: number;
  /** Ends the run early (after the current round), still with the clean-shutdown check. */
  signal?: AbortSignal;
  /** Where a failing restore's output, plan and file replica are copied for study. */
  evidenceDir?: string;
  log?: (line: string) => void;
}

export interface ChaosReport {
  rounds: number;
  faults: Record<string, number>;
  restores: number;
  failures: string[];
  lastCommitted: number;
}

const BUCKET = "chaos";
const CONTAINER = "chaos";

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const random = prng(options.seed);
  const log = options.log ?? (() => {});
  const report: ChaosReport = { rounds: 0, faults: {}, restores: 0, failures: [], lastCommitted: 0 };
  const count = (fault: string) => (report.faults[fault] = (report.faults[fault] ?? 0) + 1);
  const dir = await Deno.makeTempDir({ prefix: "walship-chaos-" });
  const dbPath = join(dir, "app.db");
  {
    const db = new DatabaseSync(dbPath);
    db.exec(`PRAGMA journal_mode = wal; ${SCHEMA}`);
    db.close();
  }
  const s3 = await startS3Server();
  const azurite = await startAzurite({ persistence: "disk" }); // a long run outgrows the in-memory store
  const proxies: FaultProxy[] = [];
  let walship: Deno.ChildProcess | null = null;
  let writer: Deno.ChildProcess | null = null;
  try {
    await s3.createBucket(BUCKET);
    await azurite.createContainer(CONTAINER);
    const s3Proxy = await startFaultProxy({ hostname: "127.0.0.1", port: s3.port });
    const azProxy = await startFaultProxy({ hostname: "127.0.0.1", port: azurite.port });
    proxies.push(s3Proxy, azProxy);
    const replicas = {
      file: `file://${join(dir, "replica")}`,
      s3: `s3://${BUCKET}/app?endpoint=http://127.0.0.1:${s3Proxy.port}&forcePathStyle=true`,
      abs:
        `abs://${azurite.accountName}@${CONTAINER}/app?endpoint=http://127.0.0.1:${azProxy.port}/${azurite.accountName}`,
    };
    const config = join(dir, "walship.yml");
    await Deno.writeTextFile(config, chaosConfig(dbPath, replicas));
    const env = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      LITESTREAM_AZURE_ACCOUNT_KEY: azurite.accountKey,
    };
    // With an evidence directory, walship's log (warnings and up) is kept there across restarts.
    const logFile = options.evidenceDir ? await openLog(options.evidenceDir) : undefined;
    const startWalship = () => {
      const level = logFile ? "warn" : "error";
      const child = walshipCommand(
        ["replicate", "-config", config],
        { ...env, LOG_LEVEL: level },
        logFile ? "piped" : "null",
      )
        .spawn();
      if (logFile) {
        for (const stream of [child.stdout, child.stderr]) {
          stream.pipeTo(logFile.writer(), { preventClose: true }).catch(() => {});
        }
      }
      return child;
    };
    walship = startWalship();
    writer = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-write",
        join(import.meta.dirname!, "writer.ts"),
        dbPath,
        String(options.seed),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const restore = async (replica: string, extra: string[], label: string): Promise<number | null> => {
      const out = join(dir, `restore-${report.restores++}.db`);
      const res = await walshipCommand(["restore", "-o", out, ...extra, replica], env).output();
      const stderr = new TextDecoder().decode(res.stderr);
      const fail = async (problem: string) => {
        report.failures.push(`${label}: ${problem}`);
        const evidence = { out, replica, extra, env, dir, s3DataDir: s3.dataDir, stderr };
        await keepEvidence(options.evidenceDir, label, evidence);
      };
      if (res.code !== 0) {
        if (/No backup files|not available|from before/.test(stderr)) return null; // nothing that old yet
        await fail(`restore failed: ${stderr.trim().split("\n")[0]}`);
        return null;
      }
      const verdict = verifyPrefix(out);
      if ("problem" in verdict) await fail(verdict.problem);
      await removeDatabase(out);
      return "problem" in verdict ? null : verdict.n;
    };
    const start = Date.now();
    while (Date.now() - start < options.durationMs && !options.signal?.aborted) {
      report.rounds++;
      const roundStart = Date.now();
      const roundMs = 6000 + random() * 6000;
      // Faults, spread over the round.
      const stormy = random() < 0.7;
      if (stormy) {
        const faults = {
          errorRate: random() * 0.2,
          slowDownRate: random() * 0.2,
          resetRate: random() * 0.15,
          delayMs: [0, random() < 0.3 ? 3000 : 200] as [number, number],
          seed: Math.floor(random() * 1e9),
        };
        for (const p of proxies) p.setFaults(faults);
        count("proxy storm");
      }
      while (Date.now() - roundStart < roundMs) {
        await sleep(500 + random() * 1500);
        const r = random();
        if (r < 0.25) {
          walship.kill("SIGKILL");
          await walship.status;
          await sleep(random() * 800);
          walship = startWalship();
          count("SIGKILL walship");
        } else if (r < 0.5) {
          const mode = ["PASSIVE", "FULL", "RESTART", "TRUNCATE"][Math.floor(random() * 4)]!;
          const db = new DatabaseSync(dbPath, { timeout: 2000 });
          try {
            db.exec(`PRAGMA wal_checkpoint(${mode})`);
          } catch {
            // busy: a checkpoint that cannot run is a fault too
          } finally {
            db.close();
          }
          count(`checkpoint ${mode}`);
        } else if (r < 0.58) {
          await vacuumInChild(dbPath).catch(() => {});
          count("VACUUM");
        }
      }
      for (const p of proxies) p.clear();
      // Restores: latest, a TXID and a time, from every replica, while the writer keeps going.
      for (const [name, url] of Object.entries(replicas)) {
        // A point in time first, then the latest: files only accumulate, so latest reaches at least as far.
        const at = new Date(start + random() * (Date.now() - start)).toISOString();
        const byTime = await restore(url, ["-timestamp", at], `round ${report.rounds} ${name} at ${at}`);
        const latest = await restore(url, [], `round ${report.rounds} ${name} latest`);
        if (latest !== null && byTime !== null && byTime > latest) {
          report.failures.push(
            `round ${report.rounds} ${name}: the restore at ${at} is ahead of a later latest`,
          );
        }
        const txid = await randomTxid(url, env, random);
        if (txid) await restore(url, ["-txid", txid], `round ${report.rounds} ${name} txid ${txid}`);
      }
      await damagedCopyRestore(join(dir, "replica"), dir, random, env, report);
      count("damaged replica copy");
      log(`round ${report.rounds}: ${report.restores} restores, ${report.failures.length} failures`);
    }
    // Clean shutdown: the writer stops, walship syncs once more and exits; every replica holds the last one.
    writer.kill("SIGTERM");
    report.lastCommitted = Number(new TextDecoder().decode((await writer.output()).stdout).trim());
    writer = null;
    await sleep(500);
    walship.kill("SIGTERM");
    const status = await walship.status;
    walship = null;
    if (status.code !== 0) report.failures.push(`walship exited ${status.code} on SIGTERM`);
    for (const [name, url] of Object.entries(replicas)) {
      const n = await restore(url, [], `final ${name}`);
      if (n !== report.lastCommitted) {
        report.failures.push(`final ${name}: restored ${n} transactions, committed ${report.lastCommitted}`);
      }
    }
  } finally {
    writer?.kill("SIGKILL");
    walship?.kill("SIGKILL");
    await writer?.status;
    await walship?.status;
    for (const p of proxies) await p.close();
    await s3.stop();
    await azurite.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return report;
}

/** The replica config: short intervals so a two-minute run sees every level, snapshots and retention. */
function chaosConfig(dbPath: string, replicas: Record<string, string>): string {
  return `levels:
  - interval: 1s
  - interval: 3s
  - interval: 9s
snapshot:
  interval: 10s
  retention: 40s
l0-retention: 2s
dbs:
  - path: ${dbPath}
    monitor-interval: 100ms
    min-checkpoint-page-count: 200
    replicas:
${Object.values(replicas).map((url) => `      - url: "${url}"\n        sync-interval: 100ms`).join("\n")}
`;
}

async function randomTxid(
  url: string,
  env: Record<string, string>,
  random: () => number,
): Promise<string | null> {
  const res = await walshipCommand(["ltx", "-json", "-level", "all", url], env).output();
  if (res.code !== 0) return null;
  const rows = JSON.parse(new TextDecoder().decode(res.stdout)) as { max_txid: string }[];
  return rows.length === 0 ? null : rows[Math.floor(random() * rows.length)]!.max_txid;
}

/**
 * Copies the file replica, damages one random file of the copy (a flipped bit or a truncation) and
 * restores from it: the restore must fail naming a file, or succeed with a correct prefix.
 */
async function damagedCopyRestore(
  replicaDir: string,
  dir: string,
  random: () => number,
  env: Record<string, string>,
  report: ChaosReport,
): Promise<void> {
  const copy = join(dir, "damaged");
  await Deno.remove(copy, { recursive: true }).catch(() => {});
  const files: string[] = [];
  const cp = await new Deno.Command("cp", { args: ["-r", replicaDir, copy] }).output();
  if (!cp.success) return; // files came and went while copying; try next round
  for (const level of Deno.readDirSync(join(copy, "ltx"))) {
    for (const f of Deno.readDirSync(join(copy, "ltx", level.name))) {
      if (f.name.endsWith(".ltx")) files.push(join(copy, "ltx", level.name, f.name));
    }
  }
  if (files.length === 0) return;
  const victim = files[Math.floor(random() * files.length)]!;
  const bytes = Deno.readFileSync(victim);
  const damaged = random() < 0.5 ? bytes.slice(0, Math.floor(random() * bytes.length)) : (() => {
    const b = bytes.slice();
    b[Math.floor(random() * b.length)]! ^= 1 << Math.floor(random() * 8);
    return b;
  })();
  Deno.writeFileSync(victim, damaged);
  const out = join(dir, "damaged.db");
  const res = await walshipCommand(["restore", "-o", out, `file://${copy}`], env).output();
  report.restores++;
  const stderr = new TextDecoder().decode(res.stderr);
  const name = victim.split("/").at(-1)!.slice(0, 33);
  if (res.code === 0) {
    const verdict = verifyPrefix(out);
    if ("problem" in verdict) {
      report.failures.push(`damaged ${name}: restored wrong data: ${verdict.problem}`);
    }
  } else if (!stderr.includes(name.slice(0, 16)) && !/No backup files/.test(stderr)) {
    report.failures.push(`damaged ${name}: error does not name the file: ${stderr.trim().split("\n")[0]}`);
  }
  await removeDatabase(out);
  await Deno.remove(copy, { recursive: true }).catch(() => {});
}

/** A restored database and the -wal/-shm files opening it left beside it. */
async function removeDatabase(path: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(path + suffix).catch(() => {});
}

/** A log file that several children's output streams write into in turn, line-interleaved as it comes. */
async function openLog(evidenceDir: string): Promise<{ writer(): WritableStream<Uint8Array> }> {
  await Deno.mkdir(evidenceDir, { recursive: true });
  const file = await Deno.open(join(evidenceDir, "walship.log"), { create: true, append: true });
  return {
    writer: () => new WritableStream({ write: async (chunk) => void await file.write(chunk) }),
  };
}

interface Evidence {
  out: string;
  replica: string;
  extra: string[];
  env: Record<string, string>;
  /** The run's directory: the file replica and walship's local state directory are copied from it. */
  dir: string;
  s3DataDir: string;
  stderr: string;
}

/**
 * Copies what a failed or wrong restore came from: its output and error, its plan, the file replica and
 * walship's local LTX files as they are now, and every stored S3 object of the file the error names.
 */
async function keepEvidence(evidenceDir: string | undefined, label: string, e: Evidence): Promise<void> {
  if (!evidenceDir) return;
  const dir = join(evidenceDir, label.replace(/[^a-zA-Z0-9.-]+/g, "_"));
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(e.out, join(dir, "restored.db")).catch(() => {});
  await Deno.writeTextFile(join(dir, "stderr.txt"), e.stderr);
  const plan = await walshipCommand(["restore", "-dry-run", "-json", ...e.extra, e.replica], e.env).output();
  await Deno.writeFile(join(dir, "plan.json"), plan.stdout);
  const copy = (from: string, to: string) =>
    new Deno.Command("cp", { args: ["-r", from, join(dir, to)] }).output();
  await copy(join(e.dir, "replica"), "file-replica");
  await copy(defaultMetaPath(join(e.dir, "app.db")), "local-state");
  const named = /([0-9a-f]{16}-[0-9a-f]{16})/.exec(e.stderr)?.[1];
  if (named) {
    const found = await new Deno.Command("find", { args: [e.s3DataDir, "-path", `*${named}*`] }).output();
    const paths = new TextDecoder().decode(found.stdout).split("\n").filter(Boolean);
    await Deno.mkdir(join(dir, "s3-objects"), { recursive: true });
    for (const path of paths) {
      await Deno.copyFile(
        path,
        join(dir, "s3-objects", path.slice(e.s3DataDir.length + 1).replaceAll("/", "_")),
      )
        .catch(() => {});
    }
  }
}
