/**
 * walship's CLI against a real S3 server (s3rver on loopback): replicate, restore (latest and -txid) and
 * ltx through s3:// URLs in their query and MinIO host forms, a multipart snapshot, a missing bucket, and
 * replication through a proxy that fails, throttles, resets and delays requests.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runWalship, sleep, waitFor, WalshipProcess } from "./helpers/cli.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { type S3Server, startS3Server } from "./helpers/s3_server.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";

function awsEnv(server: S3Server): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

/** An application database in WAL mode with a table of numbered rows. */
function openApp(
  path: string,
): { db: DatabaseSync; insert(from: number, count: number, bytes?: number): void } {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec("PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)");
  const statement = db.prepare("INSERT INTO t(id, v) VALUES (?, ?)");
  return {
    db,
    insert(from, count, bytes = 300) {
      db.exec("BEGIN");
      for (let id = from; id < from + count; id++) {
        const v = new Uint8Array(bytes);
        crypto.getRandomValues(v.subarray(0, Math.min(bytes, 65536)));
        statement.run(id, v);
      }
      db.exec("COMMIT");
    },
  };
}

async function ltxRows(url: string, env: Record<string, string>) {
  const r = await runWalship(["ltx", "-json", "-level", "all", url], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { level: number; min_txid: string; max_txid: string; size: number }[];
}

async function restoreDigest(url: string, out: string, env: Record<string, string>, extra: string[] = []) {
  const r = await runWalship(["restore", ...extra, "-o", out, url], env);
  assert.equal(r.code, 0, r.stderr);
  return dumpDigest(out);
}

Deno.test("s3:// replicate -once, ltx, restore latest and -txid (endpoint query form)", async () => {
  const server = await startS3Server();
  const dir = await Deno.makeTempDir({ prefix: "walship-s3cli-" });
  try {
    await server.createBucket("app");
    const env = awsEnv(server);
    const url = `s3://app/db/main?endpoint=127.0.0.1:${server.port}&forcePathStyle=true`;
    const dbPath = join(dir, "app.db");
    const app = openApp(dbPath);
    app.insert(1, 200);
    let r = await runWalship(["replicate", "-once", dbPath, url], env);
    assert.equal(r.code, 0, r.stderr);
    const first = dumpDigest(dbPath);
    const firstTxid = (await ltxRows(url, env)).at(-1)!.max_txid;
    app.insert(201, 300);
    app.insert(501, 10);
    r = await runWalship(["replicate", "-once", dbPath, url], env);
    assert.equal(r.code, 0, r.stderr);
    const latest = dumpDigest(dbPath);
    app.db.close();

    const rows = await ltxRows(url, env);
    assert.ok(rows.length >= 2 && rows.every((f) => f.level === 0), JSON.stringify(rows));
    // Litestream's S3 layout: <path>/<level as 4 hex digits>/<min>-<max>.ltx
    const names = [...Deno.readDirSync(join(server.dataDir, "app/db/main/0000"))].map((e) => e.name)
      .filter((name) => name.endsWith("._S3rver_object")).sort();
    assert.equal(names[0], `0000000000000001-${rows[0]!.max_txid}.ltx._S3rver_object`);

    assert.deepEqual(await restoreDigest(url, join(dir, "latest.db"), env), latest);
    assert.equal(latest.rows, 510);
    assert.deepEqual(await restoreDigest(url, join(dir, "first.db"), env, ["-txid", firstTxid]), first);
    assert.equal(first.rows, 200);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("s3://BUCKET.127.0.0.1:PORT/path (MinIO form) with LITESTREAM_* keys; a multipart snapshot", async () => {
  const server = await startS3Server();
  const dir = await Deno.makeTempDir({ prefix: "walship-s3cli-" });
  try {
    await server.createBucket("minio");
    const env = {
      LITESTREAM_ACCESS_KEY_ID: server.accessKeyId,
      LITESTREAM_SECRET_ACCESS_KEY: server.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: "true",
    };
    const url = `s3://minio.127.0.0.1:${server.port}/big?partSize=5MiB&concurrency=2`;
    const dbPath = join(dir, "big.db");
    const app = openApp(dbPath);
    app.insert(1, 160, 48 * 1024); // ~7.5 MiB of incompressible rows
    const r = await runWalship(["replicate", "-once", "-force-snapshot", dbPath, url], env);
    assert.equal(r.code, 0, r.stderr);
    const source = dumpDigest(dbPath);
    app.db.close();
    const snapshots = (await ltxRows(url, env)).filter((f) => f.level === 9);
    assert.equal(snapshots.length, 1);
    assert.ok(snapshots[0]!.size > 5 * 1024 * 1024, `snapshot of ${snapshots[0]!.size} bytes is multipart`);
    assert.deepEqual(await restoreDigest(url, join(dir, "out.db"), env), source);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("s3:// with a missing bucket: exit 1 and one error line naming it", async () => {
  const server = await startS3Server();
  const dir = await Deno.makeTempDir({ prefix: "walship-s3cli-" });
  try {
    const env = awsEnv(server);
    const url = `s3://nobucket/db?endpoint=${server.endpoint}`;
    const dbPath = join(dir, "app.db");
    const app = openApp(dbPath);
    app.insert(1, 5);
    app.db.close();
    for (
      const args of [["replicate", "-once", dbPath, url], ["restore", "-o", join(dir, "out.db"), url], [
        "ltx",
        url,
      ]]
    ) {
      const r = await runWalship(args, env);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      const errors = r.stderr.split("\n").filter((line) => line.startsWith("error:"));
      assert.equal(errors.length, 1, r.stderr);
      assert.match(errors[0]!, /bucket "nobucket" does not exist/);
      assert.match(r.stderr, /^hint: create the bucket/m);
      assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
    }
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("s3:// replicate rides out 500s, SlowDowns, resets and delays; restore resumes through resets", async () => {
  const server = await startS3Server();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  const dir = await Deno.makeTempDir({ prefix: "walship-s3cli-" });
  const dbPath = join(dir, "app.db");
  const app = openApp(dbPath);
  let walship: WalshipProcess | undefined;
  try {
    await server.createBucket("app");
    const env = awsEnv(server);
    const viaProxy = `s3://app/db?endpoint=${proxy.url}`;
    proxy.setFaults({ errorRate: 0.2, slowDownRate: 0.15, resetRate: 0.15, delayMs: [0, 40], seed: 3 });
    walship = new WalshipProcess(["replicate", "-sync-interval", "100ms", dbPath, viaProxy], env);
    const l0Dir = join(server.dataDir, "app/db/0000");
    const shippedL0 = () => {
      try {
        return [...Deno.readDirSync(l0Dir)].filter((e) => e.name.endsWith("._S3rver_object")).length;
      } catch {
        return 0;
      }
    };
    // Its first upload (through the faults) means replicate is running and handles SIGTERM.
    await waitFor("walship's first upload", () => shippedL0() > 0, 30_000);
    // The app writes until every kind of fault has hit a request at least once.
    let id = 1;
    const deadline = Date.now() + 30_000;
    const hitAll = () => {
      const { errors, slowDowns, resets } = proxy.stats();
      return errors > 0 && slowDowns > 0 && resets > 0;
    };
    for (let round = 0; round < 20 || !hitAll(); round++) {
      assert.ok(Date.now() < deadline, `faults seen: ${JSON.stringify(proxy.stats())}`);
      app.insert(id, 20, 2000);
      id += 20;
      await sleep(60);
    }
    proxy.clear();
    await sleep(500); // a sync or two without faults; SIGTERM then ships the rest
    const stopped = await walship.stop("SIGTERM");
    assert.equal(stopped.code, 0, stopped.stderr);
    const source = dumpDigest(dbPath);
    assert.equal(source.rows, id - 1);
    assert.ok(shippedL0() >= 5, `replication went on through the faults: ${shippedL0()} L0 files`);

    const direct = `s3://app/db?endpoint=${server.endpoint}`;
    assert.deepEqual(await restoreDigest(direct, join(dir, "direct.db"), env), source, "nothing was lost");
    // A quarter of the responses are cut halfway: downloads resume by range until the restore completes.
    proxy.setFaults({ resetRate: 0.25, seed: 7 });
    const before = proxy.stats().resets;
    assert.deepEqual(await restoreDigest(viaProxy, join(dir, "resumed.db"), env), source);
    assert.ok(proxy.stats().resets - before > 0, "the restore met resets");
  } finally {
    walship?.kill("SIGKILL");
    app.db.close();
    await proxy.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
