/** What a restored chaos database must be: integrity ok and exactly transactions 1..N, each whole. */
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";

/** The rows transaction `n` writes: deterministic, 1..8 rows of 50..1500 bytes. */
export function rowsOf(n: number): string[] {
  const count = 1 + (n * 7919) % 8;
  return Array.from(
    { length: count },
    (_, i) => `tx${n}row${i}:`.padEnd(50 + ((n * 31 + i * 97) % 1450), "x"),
  );
}

export function txChecksum(rows: string[]): string {
  const hash = createHash("sha256");
  for (const row of rows) hash.update(row).update("\n");
  return hash.digest("hex").slice(0, 16);
}

export const SCHEMA =
  `CREATE TABLE IF NOT EXISTS data(id INTEGER PRIMARY KEY, tx INTEGER NOT NULL, i INTEGER, payload TEXT);
CREATE INDEX IF NOT EXISTS data_tx ON data(tx);
CREATE TABLE IF NOT EXISTS tx(n INTEGER PRIMARY KEY, rows INTEGER NOT NULL, checksum TEXT NOT NULL);`;

/** The number of whole transactions in a restored copy, or the first thing wrong with it. */
export function verifyPrefix(path: string): { n: number } | { problem: string } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const integrity =
      (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
    if (integrity !== "ok") return { problem: `integrity_check: ${integrity}` };
    const txs = db.prepare("SELECT n, rows, checksum FROM tx ORDER BY n").all() as {
      n: number;
      rows: number;
      checksum: string;
    }[];
    const rowsOfTx = db.prepare("SELECT payload FROM data WHERE tx = ? ORDER BY i");
    for (let i = 0; i < txs.length; i++) {
      const { n, rows, checksum } = txs[i]!;
      if (n !== i + 1) return { problem: `transaction ${i + 1} missing (next is ${n})` };
      const payloads = (rowsOfTx.all(n) as { payload: string }[]).map((r) => r.payload);
      if (payloads.length !== rows || txChecksum(payloads) !== checksum) {
        return { problem: `transaction ${n} is partial or altered` };
      }
    }
    const orphans =
      (db.prepare("SELECT count(*) AS c FROM data WHERE tx > ?").get(txs.length) as { c: number }).c;
    if (orphans > 0) return { problem: `${orphans} rows of uncommitted transactions` };
    return { n: txs.length };
  } finally {
    db.close();
  }
}
