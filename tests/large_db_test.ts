/**
 * A database larger than 1 GiB round-trips: the lock page (the page holding byte 0x40000000) is never
 * stored in LTX files and comes back as zeros, and the pages around it are intact.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { runWalship } from "./helpers/cli.ts";

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

Deno.test("a database past the 1 GiB lock page replicates and restores byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-1g-" });
  try {
    const dbPath = join(dir, "big.db");
    const db = new DatabaseSync(dbPath);
    db.exec(
      "PRAGMA page_size = 65536; PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)",
    );
    const insert = db.prepare("INSERT INTO t(v) VALUES (?)");
    // ~1.06 GiB of mostly compressible pages, with random rows on both sides of the lock page.
    for (let i = 0; i < 17; i++) {
      db.exec("BEGIN");
      insert.run(new Uint8Array(64 << 20).fill(i));
      for (let k = 0; k < 8; k++) insert.run(crypto.getRandomValues(new Uint8Array(60_000)));
      db.exec("COMMIT");
    }
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    const size = (await Deno.stat(dbPath)).size;
    assert.ok(size > 2 ** 30 + 65536 * 4, `database is only ${size} bytes`);

    const url = `file://${join(dir, "replica")}`;
    const rep = await runWalship(["replicate", "-once", dbPath, url]);
    assert.equal(rep.code, 0, rep.stderr);
    const out = join(dir, "restored.db");
    const res = await runWalship(["restore", "-o", out, url]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await Deno.stat(out)).size, size);
    assert.equal(await sha256File(out), await sha256File(dbPath));
    const check = new DatabaseSync(out, { readOnly: true });
    assert.equal((check.prepare("PRAGMA quick_check").get() as { quick_check: string }).quick_check, "ok");
    assert.equal((check.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 17 * 9);
    check.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
