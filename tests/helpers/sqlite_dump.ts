/** A digest of a database's logical content (schema and every row, in rowid order) and its integrity. */
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";

export interface DumpDigest {
  digest: string;
  rows: number;
  integrity: string;
}

export function dumpDigest(path: string): DumpDigest {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const hash = createHash("sha256");
    let rows = 0;
    const tables = db.prepare(
      "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    ).all() as { name: string; sql: string }[];
    for (const { name, sql } of tables) {
      hash.update(`${sql}\n`);
      for (
        const row of db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}" ORDER BY rowid`).iterate()
      ) {
        rows++;
        hash.update(
          JSON.stringify(
            Object.values(row as Record<string, unknown>),
            (_k, v) =>
              v instanceof Uint8Array
                ? Buffer.from(v).toString("hex")
                : typeof v === "bigint"
                ? String(v)
                : v,
          ),
        );
        hash.update("\n");
      }
    }
    const integrity =
      (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
    return { digest: hash.digest("hex"), rows, integrity };
  } finally {
    db.close();
  }
}
