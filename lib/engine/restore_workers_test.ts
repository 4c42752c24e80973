/** Restore through worker lanes: the same bytes as the inline path, and damage refused by name. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeHeader, randomBytes } from "../ltx/_testing.ts";
import { encodeLtx } from "../ltx/encoder.ts";
import { FileStore } from "../storage/file.ts";
import { bytesBody, type LtxFileInfo } from "../storage/store.ts";
import { CorruptionError } from "../util/errors.ts";
import { restoreToFile } from "./restore.ts";

const PAGE = 4096;

/** A snapshot of `count` pages (half random, half repetitive) and a later L0 that rewrites some of them. */
async function replicaWithOverwrites(dir: string) {
  const store = new FileStore(join(dir, "replica"));
  const count = 3000;
  const pages = new Map<number, Uint8Array>();
  for (let p = 1; p <= count; p++) {
    pages.set(p, p % 2 ? randomBytes(PAGE, p) : new Uint8Array(PAGE).fill(p & 0xff));
  }
  const snapshot = await encodeLtx(
    makeHeader({ pageSize: PAGE, commit: count, minTxid: 1n, maxTxid: 5n }),
    [...pages],
  );
  const later = new Map<number, Uint8Array>();
  for (let p = 7; p <= count; p += 97) later.set(p, randomBytes(PAGE, 100_000 + p));
  const l0 = await encodeLtx(makeHeader({ pageSize: PAGE, commit: count, minTxid: 6n, maxTxid: 6n }), [
    ...later,
  ]);
  const plan: LtxFileInfo[] = [];
  plan.push(await store.write({ level: 9, minTxid: 1n, maxTxid: 5n, createdAt: 1 }, bytesBody(snapshot)));
  plan.push(await store.write({ level: 0, minTxid: 6n, maxTxid: 6n, createdAt: 2 }, bytesBody(l0)));
  const expected = new Uint8Array(count * PAGE);
  for (const [p, data] of [...pages, ...later]) expected.set(data, (p - 1) * PAGE);
  return { store, plan, expected, snapshot };
}

Deno.test("restore through worker lanes writes what the inline path writes, newest page winning", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-restore-workers-" });
  try {
    const { store, plan, expected } = await replicaWithOverwrites(dir);
    for (const workers of [1, 2]) {
      const out = join(dir, `out-${workers}.db`);
      const result = await restoreToFile(store, plan, out, { parallelMinBytes: 0, workers });
      assert.equal(result.pageCount, 3000);
      assert.deepEqual(await Deno.readFile(out), expected, `workers ${workers}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restore through worker lanes refuses a damaged file by name and leaves no output", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-restore-workers-" });
  try {
    const { store, plan, snapshot } = await replicaWithOverwrites(dir);
    const path = store.pathOf(plan[0]!);
    for (const at of [150, Math.floor(snapshot.length / 2), snapshot.length - 300]) {
      const bad = snapshot.slice();
      bad[at]! ^= 0x04;
      await Deno.writeFile(path, bad);
      const out = join(dir, "out.db");
      await assert.rejects(
        restoreToFile(store, plan, out, { parallelMinBytes: 0, workers: 1 }),
        (err: unknown) =>
          err instanceof CorruptionError && err.message.includes("0000000000000001-0000000000000005"),
        `byte ${at}`,
      );
      assert.equal(await Deno.stat(out).catch(() => null), null);
      assert.equal(await Deno.stat(`${out}.tmp`).catch(() => null), null);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
