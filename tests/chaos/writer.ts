/**
 * The chaos suite's application: commits numbered transactions as fast as it can, in bursts and pauses.
 * Transaction N inserts 1..8 rows into `data` and one row into `tx` holding N, the row count and a
 * checksum of its rows, so a restored copy proves which transactions it holds whole.
 * Usage: deno run --allow-read --allow-write writer.ts DB_PATH SEED. SIGTERM: finish the transaction, exit.
 */
import { DatabaseSync } from "node:sqlite";
import { rowsOf, txChecksum } from "./verify.ts";

const [path, seedText] = Deno.args;
const db = new DatabaseSync(path!, { timeout: 10_000 });
let seed = Number(seedText ?? 1) >>> 0;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
let stopping = false;
Deno.addSignalListener("SIGTERM", () => (stopping = true));
const insertRow = db.prepare("INSERT INTO data(tx, i, payload) VALUES (?, ?, ?)");
const insertTx = db.prepare("INSERT INTO tx(n, rows, checksum) VALUES (?, ?, ?)");
let n = (db.prepare("SELECT coalesce(max(n), 0) AS n FROM tx").get() as { n: number }).n;
while (!stopping) {
  const next = n + 1;
  const rows = rowsOf(next);
  try {
    db.exec("BEGIN IMMEDIATE");
    rows.forEach((payload, i) => insertRow.run(next, i, payload));
    insertTx.run(next, rows.length, txChecksum(rows));
    // Now and then rewrite old rows too, so pages are updated, not only appended.
    if (random() < 0.1) db.prepare("UPDATE data SET i = i WHERE tx % 50 = ?").run(next % 50);
    db.exec("COMMIT");
    n = next;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    if (!/locked|busy/i.test(String(err))) throw err;
  }
  const r = random();
  await new Promise((resolve) => setTimeout(resolve, r < 0.9 ? 0 : r < 0.99 ? 20 : 300));
}
db.close();
console.log(n);
