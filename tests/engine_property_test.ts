/**
 * Property test of the replication core: a seeded random workload (inserts, updates, deletes, overflow
 * rows, VACUUM, growth and shrink, foreign checkpoints of every mode) runs against a real database while
 * the engine copies it; restoring every recorded TXID and several timestamps must give exactly the state
 * the source held then.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Database } from "../lib/engine/database.ts";
import { Replica } from "../lib/engine/replica.ts";
import { restoreToFile } from "../lib/engine/restore.ts";
import { planRestore } from "../lib/engine/restore_plan.ts";
import { FileStore } from "../lib/storage/file.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";
import { vacuumInChild } from "./helpers/vacuum.ts";

/** Small deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Recorded {
  txid: bigint;
  createdAt: number;
  digest: string;
}

async function runWorkload(pageSize: number, seed: number, steps: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `walship-prop-${pageSize}-` });
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath, { timeout: 2000 });
  app.exec(`PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = wal; PRAGMA wal_autocheckpoint = 0`);
  app.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, n INTEGER); CREATE INDEX t_n ON t(n)");
  const checkpointer = new DatabaseSync(dbPath, { timeout: 50 });
  let clock = Date.UTC(2026, 0, 1);
  const db = await Database.open(dbPath, {
    minCheckpointPageCount: 64,
    checkpointIntervalMs: 0,
    now: () => clock,
  });
  const store = new FileStore(join(dir, "replica"));
  const replica = new Replica(db, store, { now: () => clock });
  const random = rng(seed);
  const recorded: Recorded[] = [];
  const insert = app.prepare("INSERT INTO t(v, n) VALUES (randomblob(?), ?)");
  try {
    for (let step = 0; step < steps; step++) {
      const op = random();
      const txns = 1 + Math.floor(random() * 3);
      for (let k = 0; k < txns; k++) {
        app.exec("BEGIN");
        if (op < 0.45) {
          const rows = 1 + Math.floor(random() * 20);
          for (let r = 0; r < rows; r++) {
            insert.run(Math.floor(random() * (random() < 0.1 ? pageSize * 3 : 200)), step);
          }
        } else if (op < 0.65) {
          app.exec(
            `UPDATE t SET n = n + 1, v = randomblob(${Math.floor(random() * 300)}) WHERE id % 5 = ${
              step % 5
            }`,
          );
        } else if (op < 0.85) {
          app.exec(`DELETE FROM t WHERE id % 3 = ${step % 3}`);
        } else {
          insert.run(pageSize * 8, step); // a row over many overflow pages
        }
        app.exec("COMMIT");
      }
      if (random() < 0.06) await vacuumInChild(dbPath); // shrinks the database: commit drops, pages past it go
      if (random() < 0.1) {
        const mode = ["PASSIVE", "FULL", "RESTART", "TRUNCATE"][Math.floor(random() * 4)];
        checkpointer.prepare(`PRAGMA wal_checkpoint(${mode})`).get();
      }
      clock += 1000;
      const { files } = await db.sync();
      await replica.sync();
      await db.checkpointIfNeeded();
      if (files.length > 0) {
        recorded.push({
          txid: db.txid,
          createdAt: files.at(-1)!.createdAt,
          digest: dumpDigest(dbPath).digest,
        });
      }
    }
  } finally {
    checkpointer.close();
    await db.close();
    app.close();
  }
  assert.ok(recorded.length >= steps / 2, `only ${recorded.length} syncs recorded`);
  const last = recorded.at(-1)!;
  const checks: { label: string; target: { txid?: bigint; timestamp?: number }; expect: string }[] = [
    { label: "latest", target: {}, expect: last.digest },
  ];
  const pick = rng(seed + 1);
  for (let i = 0; i < 8; i++) {
    const r = recorded[Math.floor(pick() * recorded.length)]!;
    checks.push({ label: `txid ${r.txid}`, target: { txid: r.txid }, expect: r.digest });
    checks.push({
      label: `time after txid ${r.txid}`,
      target: { timestamp: r.createdAt + 1 },
      expect: r.digest,
    });
  }
  for (const [i, check] of checks.entries()) {
    const out = join(dir, `restored-${i}.db`);
    const plan = await planRestore(store, check.target);
    await restoreToFile(store, plan, out, { integrityCheck: "full" });
    // The same plan through the worker lanes (every file, one worker) gives the same bytes.
    const viaWorkers = join(dir, `restored-${i}-workers.db`);
    await restoreToFile(store, plan, viaWorkers, { parallelMinBytes: 0, workers: 1 });
    assert.deepEqual(
      await Deno.readFile(viaWorkers),
      await Deno.readFile(out),
      `${check.label}: worker restore`,
    );
    const got = dumpDigest(out);
    assert.equal(got.integrity, "ok", `${check.label}: integrity`);
    assert.equal(
      got.digest,
      check.expect,
      `page size ${pageSize}, seed ${seed}, ${check.label}: content differs`,
    );
  }
  await Deno.remove(dir, { recursive: true });
}

for (const [pageSize, seed] of [[512, 11], [4096, 22], [65536, 33]] as const) {
  Deno.test(`replication restores every recorded point exactly (page size ${pageSize}, seed ${seed})`, async () => {
    await runWorkload(pageSize, seed, pageSize === 65536 ? 40 : 80);
  });
}
