/**
 * An idle database costs next to nothing: the replicate loop skips ticks while the WAL probe reads the
 * same and nothing is due, and a compaction level whose source got no new files does not list at its
 * boundaries. Both must still react at once to a commit.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { walApp } from "../../tests/helpers/wal_app.ts";
import { FileStore } from "../storage/file.ts";
import type { ReplicaStore } from "../storage/store.ts";
import { Database } from "./database.ts";
import { ReplicaMaintenance } from "./maintenance.ts";
import { Replica } from "./replica.ts";
import { Replicator } from "./replicator.ts";
import { DEFAULT_SCHEDULE, type MaintenanceSchedule } from "./schedule.ts";

/** `store` with its list() calls counted. */
function countingLists(store: ReplicaStore): ReplicaStore & { lists: number } {
  const counted = {
    lists: 0,
    list: (level: number, signal?: AbortSignal) => {
      counted.lists++;
      return store.list(level, signal);
    },
    open: store.open.bind(store),
    write: store.write.bind(store),
    remove: store.remove.bind(store),
    describe: store.describe.bind(store),
  };
  return counted;
}

/** A database replicated into a file store with its listings counted, maintained on a clock the test moves. */
async function maintained(prefix: string, schedule: Partial<MaintenanceSchedule>) {
  const { dir, path, app, cleanup } = await walApp(prefix, "INSERT INTO t VALUES (1)");
  const store = countingLists(new FileStore(join(dir, "replica")));
  const db = await Database.open(path, { checkpointIntervalMs: 0 });
  const clock = { now: Date.now() }; // files carry real timestamps; this clock only runs ahead of them
  const maintenance = new ReplicaMaintenance(store, {
    schedule: { ...DEFAULT_SCHEDULE, ...schedule },
    scratchDir: db.scratchDir,
    now: () => clock.now,
  });
  const replica = new Replica(db, store);
  let row = 1;
  return {
    app,
    store,
    db,
    clock,
    maintenance,
    replica,
    /** Commits a row, copies it and ships it. */
    async ship(): Promise<void> {
      app.exec(`INSERT INTO t VALUES (${++row})`);
      await db.sync();
      await replica.sync();
      maintenance.noteActivity();
    },
    async [Symbol.asyncDispose]() {
      await db.close();
      await cleanup();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

Deno.test("the replicate loop skips idle ticks, then dozes until the WAL changes, and ships the next commit at once", async () => {
  const { dir, path: dbPath, app, cleanup } = await walApp("walship-idle-", "INSERT INTO t VALUES (1)");
  const store = countingLists(new FileStore(join(dir, "replica")));
  const db = await Database.open(dbPath, { checkpointIntervalMs: 0 });
  let syncs = 0;
  const sync = db.sync.bind(db);
  db.sync = () => (syncs++, sync());
  let readings = 0;
  const walReading = db.walReading.bind(db);
  db.walReading = () => (readings++, walReading());
  const replica = new Replica(db, store);
  const schedule: MaintenanceSchedule = { ...DEFAULT_SCHEDULE, levelIntervalsMs: [] };
  const replicator = new Replicator(db, [replica], { monitorIntervalMs: 40, syncIntervalMs: 40, schedule });
  try {
    await replicator.start();
    await until("the first shipment", () => replica.position === db.txid && db.txid > 0n);
    await sleep(200); // the ticks right after a shipment are full ones
    const [syncsBefore, listsBefore, readingsBefore] = [syncs, store.lists, readings];
    await sleep(600); // ~15 ticks
    assert.equal(syncs, syncsBefore, "idle ticks read the WAL");
    assert.equal(store.lists, listsBefore, "idle ticks listed the replica");
    assert.equal(readings, readingsBefore, "a dozing loop still ticks");

    // Dozing wakes by timer only every 5 s: shipping sooner means the WAL watch woke it.
    for (let round = 2; round <= 3; round++) {
      const before = db.txid;
      app.exec(`INSERT INTO t VALUES (${round})`);
      await until("the commit to ship", () => replica.position !== null && replica.position > before, 1000);
      await sleep(500); // dozes again
    }
  } finally {
    await replicator.stop();
    await cleanup();
  }
});

Deno.test("a compaction level with no new input skips its listings until fed or ten intervals pass", async () => {
  await using t = await maintained("walship-unfed-", { levelIntervalsMs: [1000], retentionEnabled: false });
  const { app, store, db, clock, maintenance, replica } = t;
  await db.sync();
  app.exec("INSERT INTO t VALUES (2)"); // two files: a lone one would wait for company
  await db.sync();
  await replica.sync();
  maintenance.noteActivity();
  assert.equal(maintenance.isDue(), false, "no boundary passed yet");
  clock.now += 1000;
  assert.equal(maintenance.isDue(), true);
  assert.equal((await maintenance.runDue()).compacted.length, 1);

  const lists = store.lists;
  for (let i = 0; i < 9; i++) {
    clock.now += 1000;
    assert.equal(maintenance.isDue(), false, `boundary ${i + 2}: nothing new`);
    assert.equal((await maintenance.runDue()).compacted.length, 0);
  }
  assert.equal(store.lists, lists, "an unfed level listed");
  clock.now += 1000; // the tenth interval since it last looked: look anyway
  assert.equal(maintenance.isDue(), true);
  await maintenance.runDue();
  assert.equal(store.lists, lists + 2);

  for (const v of [3, 4]) {
    app.exec(`INSERT INTO t VALUES (${v})`);
    await db.sync();
  }
  await replica.sync();
  maintenance.noteActivity();
  clock.now += 1000;
  assert.equal(maintenance.isDue(), true, "fed by a shipment");
  assert.equal((await maintenance.runDue()).compacted.length, 1);
});

Deno.test("a lone source file waits for company (the top level: ten of its intervals), without listings", async () => {
  await using t = await maintained("walship-lone-", { levelIntervalsMs: [1000], retentionEnabled: false });
  const { app, store, db, clock, maintenance, replica } = t;
  await db.sync();
  await replica.sync();
  maintenance.noteActivity();
  const lone = (await store.list(0))[0]!;
  clock.now = Math.max(clock.now, lone.createdAt) + 1000;
  assert.equal(maintenance.isDue(), true);
  assert.deepEqual((await maintenance.runDue()).compacted, [], "a merge of one file is a copy: it waits");
  assert.deepEqual(await store.list(1), []);
  const lists = store.lists;
  clock.now += 1000;
  assert.equal(maintenance.isDue(), false, "no new file, not yet ten intervals");
  await maintenance.runDue();
  assert.equal(store.lists, lists, "a waiting level does not list");

  // Company arrives: the next boundary merges both files into one.
  app.exec("INSERT INTO t VALUES (2)");
  await db.sync();
  await replica.sync();
  maintenance.noteActivity();
  clock.now += 1000;
  const merged = (await maintenance.runDue()).compacted;
  assert.deepEqual(merged.map((f) => [f.level, f.minTxid, f.maxTxid]), [[1, 1n, 2n]]);

  // Alone again: merged on its own once it has waited ten intervals (10 s).
  app.exec("INSERT INTO t VALUES (3)");
  await db.sync();
  await replica.sync();
  maintenance.noteActivity();
  const third = (await store.list(0)).at(-1)!;
  clock.now += 1000;
  assert.deepEqual((await maintenance.runDue()).compacted, []);
  clock.now = third.createdAt + 9000;
  assert.equal(maintenance.isDue(), false);
  clock.now = third.createdAt + 10_000;
  assert.equal(maintenance.isDue(), true);
  const alone = (await maintenance.runDue()).compacted;
  assert.deepEqual(alone.map((f) => [f.level, f.minTxid, f.maxTxid]), [[1, 3n, 3n]]);
});

Deno.test("retention lists again once a file may have become removable, not after every shipment", async () => {
  const { dir, path: dbPath, app, cleanup } = await walApp("walship-retain-", "INSERT INTO t VALUES (1)");
  const store = countingLists(new FileStore(join(dir, "replica")));
  const db = await Database.open(dbPath, { checkpointIntervalMs: 0 });
  let now = Date.now();
  const l0RetentionMs = 8000; // within ten L1 intervals, before L1 looks anyway
  const maintenanceWith = (levelIntervalsMs: number[]) =>
    new ReplicaMaintenance(store, {
      schedule: {
        ...DEFAULT_SCHEDULE,
        levelIntervalsMs,
        retentionCheckIntervalMs: 1000,
        retention: { ...DEFAULT_SCHEDULE.retention, l0RetentionMs },
      },
      scratchDir: db.scratchDir,
      now: () => now,
    });
  const replica = new Replica(db, store);
  const ship = async (maintenance: ReplicaMaintenance, v: number) => {
    app.exec(`INSERT INTO t VALUES (${v})`);
    await db.sync();
    await replica.sync();
    maintenance.noteActivity();
  };
  try {
    await db.sync();
    await replica.sync();
    // No compaction levels: new L0 files make nothing removable, so after the pass at start, none follow.
    const uncompacted = maintenanceWith([]);
    assert.equal(uncompacted.isDue(), true, "retention looks once at start");
    await uncompacted.runDue();
    const lists = store.lists;
    for (let v = 2; v <= 4; v++) {
      await ship(uncompacted, v);
      now += 1500;
      assert.equal(uncompacted.isDue(), false, `shipment ${v - 1} brought retention back`);
      await uncompacted.runDue();
    }
    assert.equal(store.lists, lists);

    // With L1: the merge is followed by a pass over L0, L1 and L9 only; its L0 files go once of age,
    // with nothing shipped since, again looking at those three levels.
    const compacting = maintenanceWith([1000]);
    const startedAt = now;
    let before = store.lists;
    await compacting.runDue();
    assert.equal(store.lists - before, 10, "the pass at start lists every level");
    const l0 = await store.list(0);
    now += 1000;
    before = store.lists;
    assert.equal((await compacting.runDue()).compacted.length, 1);
    assert.equal(store.lists - before, 2 + 3, "the merge lists L0 and L1, then retention L0, L1 and L9");
    assert.equal((await store.list(0)).length, l0.length, "young L0 files stay");
    now = l0[0]!.createdAt + l0RetentionMs - 1;
    assert.equal(compacting.isDue(), false);
    now += 1;
    assert.equal(compacting.isDue(), true, "the oldest compacted L0 file came of age");
    before = store.lists;
    const { removed } = await compacting.runDue();
    assert.equal(store.lists - before, 3);
    // All of them came of age within the same millisecond or so, except the newest, which stays.
    assert.deepEqual(removed.map((f) => f.maxTxid), [l0[0]!.maxTxid]);

    // Files other processes wrote or removed at any level are seen within the hour.
    now += 60_000;
    await compacting.runDue(); // the rest of L0 comes of age: all but the newest go
    assert.equal((await store.list(0)).length, 1);
    now = startedAt + 3600_000 - 500;
    before = store.lists;
    await compacting.runDue();
    assert.equal(store.lists - before, 2, "L1 looks anyway; retention waits for the hour");
    now = startedAt + 3600_000;
    assert.equal(compacting.isDue(), true, "an hour after the first pass");
    before = store.lists;
    await compacting.runDue();
    assert.equal(store.lists - before, 10, "retention lists every level again");
  } finally {
    await db.close();
    await cleanup();
  }
});

Deno.test("a merge into a level whose newest file the base snapshot covers frees it, listing what it touched", async () => {
  await using t = await maintained("walship-held-", {
    levelIntervalsMs: [1000, 2000],
    retentionCheckIntervalMs: 1000,
  });
  const { store, db, clock, maintenance, replica, ship } = t;
  await db.sync();
  await replica.sync();
  await maintenance.runDue(); // the pass at start
  await ship();
  await maintenance.compactLevel(1);
  await ship();
  await maintenance.compactLevel(1);
  const [covered] = await maintenance.compactLevel(2);
  // A snapshot covers everything so far: each level's newest file is clock.now held only for being the newest.
  const snapshot = (await db.snapshot())!;
  await replica.upload(snapshot);
  await db.discardSnapshot(snapshot);
  maintenance.noteSnapshot();
  clock.now += 1000;
  await maintenance.runDue();
  assert.deepEqual((await store.list(2)).map((f) => f.maxTxid), [covered!.maxTxid]);

  await ship();
  clock.now += 2000;
  await maintenance.runDue(); // L1 merges; L2's lone source file waits for company
  assert.deepEqual((await store.list(2)).map((f) => f.maxTxid), [covered!.maxTxid]);
  await ship();
  clock.now += 2000;
  const before = store.lists;
  const { compacted, removed } = await maintenance.runDue();
  assert.deepEqual(compacted.map((f) => f.level), [1, 2]);
  assert.ok(removed.some((f) => f.level === 2 && f.maxTxid === covered!.maxTxid), "the held L2 file went");
  assert.equal(store.lists - before, 2 + 2 + 4, "two merges, then retention over L0, L1, L2 and L9");
});
