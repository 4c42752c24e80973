import assert from "node:assert/strict";
import type { LtxFileInfo } from "../storage/store.ts";
import { replicaLagMs } from "./replication_status.ts";

const file = (min: bigint, max: bigint, createdAt: number): LtxFileInfo => ({
  level: 0,
  minTxid: min,
  maxTxid: max,
  sizeBytes: 100,
  createdAt,
});

Deno.test("replicaLagMs() is 0 when caught up and the age of the oldest missing change otherwise", () => {
  const local = [file(1n, 5n, 1_000), file(6n, 6n, 4_000), file(7n, 9n, 7_000)];
  assert.equal(replicaLagMs(local, 9n, 10_000), 0);
  assert.equal(replicaLagMs(local, 12n, 10_000), 0, "a replica ahead is not behind");
  assert.equal(replicaLagMs(local, 6n, 10_000), 3_000);
  assert.equal(replicaLagMs(local, 5n, 10_000), 6_000);
  assert.equal(replicaLagMs(local, null, 10_000), 9_000, "position unknown: everything local counts");
  assert.equal(replicaLagMs([], 0n, 10_000), 0);
  assert.equal(replicaLagMs(local, 0n, 500), 0, "clock behind a file's time: never negative");
});
