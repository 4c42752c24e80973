/**
 * `walship replicate` as a child process beside a writing application: foreign checkpoints of every
 * mode, SIGKILL and restart, SIGTERM; then `walship restore` (latest, -txid, -timestamp) must give states
 * the application really had, with a contiguous TXID chain in the replica.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runWalship, sleep, waitFor, WalshipProcess } from "./helpers/cli.ts";

const ROWS_PER_TXN = 4;

/** An app that commits numbered transactions; row content is a function of its number. */
class App {
  db: DatabaseSync;
  committed = 0;
  commitTimes: number[] = [];
  #insert;
  constructor(path: string) {
    this.db = new DatabaseSync(path, { timeout: 5000 });
    this.db.exec(
      "PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, txn INTEGER, v BLOB)",
    );
    this.#insert = this.db.prepare("INSERT INTO t(id, txn, v) VALUES (?, ?, ?)");
  }
  commit(): void {
    const n = this.committed + 1;
    this.db.exec("BEGIN");
    for (let r = 0; r < ROWS_PER_TXN; r++) {
      this.#insert.run((n - 1) * ROWS_PER_TXN + r + 1, n, rowBytes(n, r));
    }
    this.db.exec("COMMIT");
    this.committed = n;
    this.commitTimes[n] = Date.now();
  }
  async write(count: number, pauseMs: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.commit();
      if (pauseMs) await sleep(pauseMs);
    }
  }
}

function rowBytes(txn: number, row: number): Uint8Array {
  const out = new Uint8Array(200 + ((txn * 7 + row) % 300));
  for (let i = 0; i < out.length; i++) out[i] = (txn * 31 + row * 17 + i) & 0xff;
  return out;
}

/** How many transactions a restored database holds; fails unless it is exactly a prefix 1..N, intact. */
function committedPrefix(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    assert.equal(
      (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check,
      "ok",
    );
    let expectedId = 1;
    let last = 0;
    for (const row of db.prepare("SELECT id, txn, v FROM t ORDER BY id").iterate()) {
      const { id, txn, v } = row as { id: number; txn: number; v: Uint8Array };
      assert.equal(id, expectedId, "no gaps in rows");
      const r = (id - 1) % ROWS_PER_TXN;
      assert.equal(txn, Math.floor((id - 1) / ROWS_PER_TXN) + 1);
      assert.deepEqual(new Uint8Array(v), rowBytes(txn, r), `row ${id} content`);
      expectedId++;
      last = txn;
    }
    assert.equal((expectedId - 1) % ROWS_PER_TXN, 0, "no partial transaction");
    return last;
  } finally {
    db.close();
  }
}

async function assertContiguousChain(url: string): Promise<bigint> {
  const r = await runWalship(["ltx", "-json", "-level", "0", url]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { min_txid: string; max_txid: string }[];
  let prev = 0n;
  for (const row of rows) {
    const min = BigInt(`0x${row.min_txid}`);
    assert.ok(min <= prev + 1n, `gap before ${row.min_txid}`);
    prev = BigInt(`0x${row.max_txid}`);
  }
  return prev;
}

Deno.test("replicate survives foreign checkpoints and SIGKILL; restore gives exact prefixes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-cli-" });
  const dbPath = join(dir, "app.db");
  const url = `file://${join(dir, "replica")}`;
  const app = new App(dbPath);
  const checkpointer = new DatabaseSync(dbPath, { timeout: 100 });
  let walship = new WalshipProcess(["replicate", "-sync-interval", "200ms", dbPath, url]);
  try {
    await sleep(500);
    for (const mode of ["PASSIVE", "FULL", "RESTART", "TRUNCATE"]) {
      await app.write(40, 2);
      checkpointer.prepare(`PRAGMA wal_checkpoint(${mode})`).get();
    }
    await app.write(30, 2);
    await sleep(300);
    walship.kill("SIGKILL");
    const killed = await walship.finished();
    assert.notEqual(killed.code, 0);
    // The app goes on while walship is down, and checkpoints: the WAL may restart under it.
    await app.write(50, 1);
    checkpointer.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
    await app.write(20, 1);
    walship = new WalshipProcess(["replicate", "-sync-interval", "200ms", dbPath, url]);
    await sleep(500);
    await app.write(60, 3);
    checkpointer.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get();
    await app.write(20, 3);
    const stopped = await walship.stop("SIGTERM");
    assert.equal(stopped.code, 0, stopped.stderr);
  } finally {
    walship.kill("SIGKILL");
    checkpointer.close();
  }
  const lastTxid = await assertContiguousChain(url);
  const latest = join(dir, "latest.db");
  const r = await runWalship(["restore", "-integrity-check", "full", "-o", latest, url]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(committedPrefix(latest), app.committed, "after a clean stop, latest holds every transaction");

  // Every TXID restores to some exact prefix, and later TXIDs never hold fewer transactions.
  let previous = 0;
  for (let txid = 1n; txid <= lastTxid; txid += lastTxid / 7n || 1n) {
    const out = join(dir, `txid-${txid}.db`);
    const res = await runWalship(["restore", "-txid", txid.toString(16).padStart(16, "0"), "-o", out, url]);
    assert.equal(res.code, 0, res.stderr);
    const n = committedPrefix(out);
    assert.ok(n >= previous, `txid ${txid} holds ${n} < ${previous}`);
    previous = n;
  }
  app.db.close();
});

Deno.test("restore -timestamp gives a state the app really had at that time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-ts-" });
  const dbPath = join(dir, "app.db");
  const url = `file://${join(dir, "replica")}`;
  const app = new App(dbPath);
  const walship = new WalshipProcess(["replicate", "-sync-interval", "100ms", dbPath, url]);
  const marks: number[] = [];
  try {
    await sleep(400);
    for (let i = 0; i < 5; i++) {
      await app.write(20, 5);
      await sleep(400);
      marks.push(Date.now());
    }
    await waitFor(
      "final files",
      async () => (await Deno.stat(join(dir, "replica/ltx/0")).catch(() => null)) !== null,
    );
    assert.equal((await walship.stop()).code, 0);
  } finally {
    walship.kill("SIGKILL");
  }
  for (const [i, mark] of marks.entries()) {
    const out = join(dir, `at-${i}.db`);
    const r = await runWalship(["restore", "-timestamp", new Date(mark).toISOString(), "-o", out, url]);
    assert.equal(r.code, 0, r.stderr);
    const n = committedPrefix(out);
    assert.ok(app.commitTimes[n]! < mark, `restored txn ${n} was committed after the timestamp`);
    // Everything committed 400 ms before the mark had been shipped (sync interval 100 ms).
    const expectedAtLeast = app.commitTimes.findLastIndex((t) => t !== undefined && t < mark - 350);
    assert.ok(
      n >= expectedAtLeast,
      `at mark ${i}: restored ${n}, but ${expectedAtLeast} were committed well before`,
    );
  }
  app.db.close();
});
