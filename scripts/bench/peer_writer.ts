/**
 * The application of the peer benchmarks, run as its own process so the harness's polling never delays a
 * commit: writes 1 KB random rows in 100-row transactions, steadily or in bursts, and records for every
 * commit when it returned and where it ends in the WAL (salt-1 and end offset), which is what a replica
 * file must reach to hold it. Usage: `peer_writer.ts OPTIONS_JSON` with {@link WriterOptions}.
 */
import { DatabaseSync } from "node:sqlite";
import { readPageMap, readWalHeader } from "../../lib/sqlite/mod.ts";

export interface WriterOptions {
  dbPath: string;
  /** Where the commit log goes, as JSON `Commit[]`. */
  outPath: string;
  rows: number;
  /** "steady": `txPerSecond`; "bursty": `bursts` bursts as fast as possible with `pauseMs` between. */
  mode: "steady" | "bursty";
  txPerSecond: number;
  bursts: number;
  pauseMs: number;
}

/** One commit: when COMMIT returned (epoch ms) and the WAL position its last frame ends at. */
export interface Commit {
  at: number;
  salt1: number;
  end: number;
}

const ROWS_PER_TX = 100;
const WAL_HEADER_SIZE = 32;

async function write(options: WriterOptions): Promise<Commit[]> {
  const app = new DatabaseSync(options.dbPath, { timeout: 10_000 });
  const insert = app.prepare("INSERT INTO t(v) VALUES (randomblob(1000))");
  // Opened after the first commit: the WAL file may not exist before it.
  let wal: Deno.FsFile | undefined;
  const commits: Commit[] = [];
  let salt1 = -1;
  let end = WAL_HEADER_SIZE;
  const commitOne = async () => {
    app.exec("BEGIN");
    for (let r = 0; r < ROWS_PER_TX; r++) insert.run();
    app.exec("COMMIT");
    const at = Date.now();
    wal ??= await Deno.open(options.dbPath + "-wal");
    const header = (await readWalHeader(wal))!;
    if (header.salt1 !== salt1) end = WAL_HEADER_SIZE;
    try {
      end = (await readPageMap(wal, header, { offset: end })).endOffset;
    } catch {
      // The WAL restarted under the same salt-1 view (a checkpoint raced this read): scan it whole.
      end = (await readPageMap(wal, header)).endOffset;
    }
    salt1 = header.salt1;
    commits.push({ at, salt1, end });
  };
  const txns = Math.ceil(options.rows / ROWS_PER_TX);
  if (options.mode === "steady") {
    const started = Date.now();
    for (let i = 0; i < txns; i++) {
      await commitOne();
      const wait = started + ((i + 1) * 1000) / options.txPerSecond - Date.now();
      if (wait > 0) await sleep(wait);
    }
  } else {
    for (let burst = 0; burst < options.bursts; burst++) {
      if (burst > 0) await sleep(options.pauseMs);
      const share = Math.ceil(txns / options.bursts);
      for (let i = 0; i < share && commits.length < txns; i++) await commitOne();
    }
  }
  wal?.close();
  app.close();
  return commits;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

if (import.meta.main) {
  const options = JSON.parse(Deno.args[0]!) as WriterOptions;
  const commits = await write(options);
  await Deno.writeTextFile(options.outPath, JSON.stringify(commits));
}
