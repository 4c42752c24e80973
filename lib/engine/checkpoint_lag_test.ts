/**
 * A checkpoint first copies the WAL to its end, so the commits made since the cycle's own copy land in a
 * file of their own. That file ships right after the checkpoint: left for the next tick, its commits
 * (the oldest unshipped ones) would wait a whole interval more, and set the replication lag.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { walApp } from "../../tests/helpers/wal_app.ts";
import { FileStore } from "../storage/file.ts";
import type { ReplicaStore } from "../storage/store.ts";
import { Database } from "./database.ts";
import { Replica } from "./replica.ts";
import { Replicator } from "./replicator.ts";
import { DEFAULT_SCHEDULE } from "./schedule.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** `store` whose writes wait at a gate while it is closed; `writing` resolves when one arrives there. */
function gatedWrites(store: ReplicaStore) {
  let opened = Promise.resolve();
  let open = () => {};
  let arrived = () => {};
  const gated = {
    writing: Promise.resolve(),
    close() {
      opened = new Promise<void>((r) => (open = r));
      gated.writing = new Promise<void>((r) => (arrived = r));
    },
    open: () => open(),
    store: {
      list: store.list.bind(store),
      open: store.open.bind(store),
      remove: store.remove.bind(store),
      describe: store.describe.bind(store),
      write: async (...args: Parameters<ReplicaStore["write"]>) => {
        arrived();
        await opened;
        return await store.write(...args);
      },
    } satisfies ReplicaStore,
  };
  return gated;
}

Deno.test("commits a checkpoint copies ship right after it, not a tick later", async () => {
  const { dir, path: dbPath, app, cleanup } = await walApp("walship-ckpt-lag-", "INSERT INTO t VALUES (1)");
  const gate = gatedWrites(new FileStore(join(dir, "replica")));
  // Every cycle that copied a frame checkpoints.
  const db = await Database.open(dbPath, { checkpointIntervalMs: 0, minCheckpointPageCount: 1 });
  const replica = new Replica(db, gate.store);
  const schedule = { ...DEFAULT_SCHEDULE, levelIntervalsMs: [], retentionEnabled: false };
  const tickMs = 3000;
  const replicator = new Replicator(db, [replica], {
    monitorIntervalMs: tickMs,
    syncIntervalMs: tickMs,
    schedule,
  });
  try {
    await replicator.start();
    await until("the first shipment", () => replica.position === db.txid && db.txid > 0n, 5000);
    await sleep(tickMs); // past the tick that follows a shipment

    gate.close();
    app.exec("INSERT INTO t VALUES (2)");
    await gate.writing; // the next tick copied commit 2 and ships it
    const copied = db.txid;
    app.exec("INSERT INTO t VALUES (3)"); // after that copy: the checkpoint's copy takes it
    const released = Date.now();
    gate.open();
    await until("commit 3 to ship", () => replica.position !== null && replica.position > copied, tickMs);
    const waited = Date.now() - released;
    assert.ok(waited < tickMs / 2, `commit 3 shipped ${waited} ms after commit 2's upload was let through`);
    assert.equal(db.txid, copied + 1n, "commit 3 came in a file of its own, from the checkpoint's copy");
  } finally {
    await replicator.stop();
    await cleanup();
  }
});
