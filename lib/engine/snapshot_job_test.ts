import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { FileStore } from "../storage/file.ts";
import { restoreToFile } from "./restore.ts";
import { listAllLevels, planFromListings } from "./restore_plan.ts";
import { runSnapshotJob } from "./snapshot_job.ts";

function rowCount(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

Deno.test("a snapshot job whose state directory is gone starts above the replica, not 'unchanged'", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dbPath = join(dir, "app.db");
    const app = new DatabaseSync(dbPath);
    app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(v BLOB)");
    const insert = app.prepare("INSERT INTO t(v) VALUES (randomblob(300))");
    const store = new FileStore(join(dir, "replica"));
    for (let run = 0; run < 3; run++) {
      insert.run();
      const [result] = await runSnapshotJob(dbPath, [store]);
      assert.equal(result!.error, undefined);
    }
    const before = (await store.list(9)).at(-1)!.maxTxid;
    insert.run();
    await Deno.remove(join(dir, ".app.db-walship"), { recursive: true });

    const [result] = await runSnapshotJob(dbPath, [store]);
    assert.equal(result!.error, undefined);
    assert.equal(result!.unchanged, false);
    assert.ok(result!.txid > before, `new snapshot ${result!.txid} above ${before}`);
    const out = join(dir, "restored.db");
    await restoreToFile(store, planFromListings(await listAllLevels(store), {}), out);
    assert.equal(rowCount(out), 4);
    app.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
