/**
 * Replicas encrypted with age, end to end: round trips with recipients + identity and with a passphrase;
 * write-only mode (recipients only) compacting from local plaintext and restored on "another machine";
 * every object a standard age file (the `age` CLI decrypts it, the plaintext decodes as LTX); wrong,
 * missing or unwanted keys and tampered objects failing with one line and no output file; S3 and Azure.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { Database } from "../lib/engine/database.ts";
import { LocalMirror } from "../lib/engine/local_store.ts";
import { Replica } from "../lib/engine/replica.ts";
import { Replicator } from "../lib/engine/replicator.ts";
import { restoreToFile } from "../lib/engine/restore.ts";
import { listAllLevels, planFromListings } from "../lib/engine/restore_plan.ts";
import type { MaintenanceSchedule } from "../lib/engine/schedule.ts";
import { LtxDecoder } from "../lib/ltx/decoder.ts";
import { withEncryption } from "../lib/storage/encryption.ts";
import { FileStore } from "../lib/storage/file.ts";
import type { ReplicaStore } from "../lib/storage/store.ts";
import { bytesStream } from "../lib/util/streams.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from "./helpers/azurite.ts";
import { runWalship } from "./helpers/cli.ts";
import { startS3Server } from "./helpers/s3_server.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";

const IDENTITY = await generateIdentity();
const RECIPIENT = await identityToRecipient(IDENTITY);
const AGE_MAGIC = "age-encryption.org/v1\n";

/** The age CLI from Debian, installed when missing and root; otherwise a clear failure. */
async function ensureAgeCli(): Promise<void> {
  const has = () => new Deno.Command("age", { args: ["--version"], stdout: "null", stderr: "null" }).output();
  try {
    await has();
    return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const uid = new TextDecoder().decode((await new Deno.Command("id", { args: ["-u"] }).output()).stdout)
    .trim();
  if (uid !== "0") throw new Error("these tests need the age command-line tool: sudo apt-get install -y age");
  const install = await new Deno.Command("apt-get", { args: ["install", "-y", "age"], stdout: "null" })
    .output();
  if (!install.success) throw new Error("apt-get install -y age failed; the tests need the age CLI");
  await has();
}

async function run(cmd: string, args: string[], stdin?: string): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
  })
    .spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  assert.ok(out.success, `${cmd} ${args.join(" ")} failed`);
  return out.stdout;
}

/** Decodes a whole LTX file (header, pages, checksums); returns its TXID range. */
async function decodeLtx(bytes: Uint8Array): Promise<string> {
  const decoder = new LtxDecoder(bytesStream(bytes), { name: "decrypted" });
  const header = await decoder.readHeader();
  let pages = 0;
  while (await decoder.readPage()) pages++;
  await decoder.finish();
  assert.ok(pages > 0);
  return `${header.minTxid}-${header.maxTxid}`;
}

function openApp(path: string): { insert(from: number, count: number): void; close(): void } {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec("PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)");
  const statement = db.prepare("INSERT INTO t(id, v) VALUES (?, ?)");
  return {
    insert(from, count) {
      db.exec("BEGIN");
      for (let id = from; id < from + count; id++) statement.run(id, `row ${id} `.repeat(30));
      db.exec("COMMIT");
    },
    close: () => db.close(),
  };
}

async function replicaFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(join(dir, e.name));
      else out.push(join(dir, e.name));
    }
  };
  await walk(root);
  return out.sort();
}

/** A restore that must fail: exit 1, one `error:` line (plus a hint line), the output never created. */
async function failedRestore(args: string[], out: string, env: Record<string, string> = {}): Promise<string> {
  const r = await runWalship(["restore", "-o", out, ...args], env);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.ok(lines.length <= 2 && lines[0]!.startsWith("error: "), r.stderr);
  assert.ok(lines.length === 1 || lines[1]!.startsWith("hint: "), r.stderr);
  for (const path of [out, `${out}.tmp`]) await assert.rejects(() => Deno.stat(path), Deno.errors.NotFound);
  assert.ok(!r.stderr.includes(IDENTITY) && !r.stderr.includes("AGE-SECRET-KEY"), r.stderr);
  return r.stderr;
}

Deno.test("age recipients + identity: replicate, snapshot, restore; objects open with the age CLI as LTX", async () => {
  await ensureAgeCli();
  const dir = await Deno.makeTempDir({ prefix: "walship-age-" });
  const keyFile = join(dir, "key.txt");
  await Deno.writeTextFile(keyFile, `# walship test key\n${IDENTITY}\n`);
  const dbPath = join(dir, "app.db");
  const replica = join(dir, "replica");
  const config = join(dir, "walship.yml");
  await Deno.writeTextFile(
    config,
    `dbs:\n  - path: ${dbPath}\n    replica:\n      path: ${replica}\n` +
      `      age:\n        recipients: [${RECIPIENT}]\n        identity-file: ${keyFile}\n`,
  );
  const app = openApp(dbPath);
  try {
    app.insert(1, 300);
    assert.equal((await runWalship(["replicate", "-once", "-config", config])).code, 0);
    assert.equal((await runWalship(["snapshot", "-config", config])).code, 0);
    app.insert(301, 200);
    const last = await runWalship(["replicate", "-once", "-config", config]);
    assert.equal(last.code, 0, last.stderr);
    const expected = dumpDigest(dbPath);

    const out = join(dir, "restored.db");
    const r = await runWalship(["restore", "-o", out, "-config", config, dbPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(dumpDigest(out), expected);

    const files = await replicaFiles(replica);
    assert.ok(
      files.some((f) => f.includes("/ltx/9/")) && files.some((f) => f.includes("/ltx/0/")),
      `${files}`,
    );
    for (const file of files) {
      const raw = await Deno.readFile(file);
      assert.equal(new TextDecoder().decode(raw.subarray(0, AGE_MAGIC.length)), AGE_MAGIC, file);
      const plain = await run("age", ["-d", "-i", keyFile, file]);
      assert.equal(
        await decodeLtx(plain),
        file.split("/").at(-1)!.replace(".ltx", "").split("-").map((h) => BigInt(`0x${h}`)).join("-"),
      );
    }
    const listed = await runWalship(["ltx", "-json", "-level", "all", `file://${replica}`]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(JSON.parse(listed.stdout).length, files.length);
  } finally {
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("age errors: no key, a wrong identity, a tampered object, keys on a plaintext replica", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-age-err-" });
  const keyFile = join(dir, "key.txt");
  await Deno.writeTextFile(keyFile, `${IDENTITY}\n`);
  const otherKey = join(dir, "other.txt");
  await Deno.writeTextFile(otherKey, `${await generateIdentity()}\n`);
  const dbPath = join(dir, "app.db");
  const replica = join(dir, "replica");
  const plainReplica = join(dir, "plain");
  const config = join(dir, "walship.yml");
  await Deno.writeTextFile(
    config,
    `dbs:\n  - path: ${dbPath}\n    replicas:\n      - path: ${replica}\n        age: { identity-file: ${keyFile} }\n` +
      `      - path: ${plainReplica}\n`,
  );
  const app = openApp(dbPath);
  try {
    app.insert(1, 100);
    assert.equal((await runWalship(["replicate", "-once", "-config", config])).code, 0);
    const url = `file://${replica}`;
    const out = join(dir, "out.db");
    assert.match(
      await failedRestore([url], out),
      /the replica is encrypted with age\nhint: pass -age-identity-file/,
    );
    assert.match(
      await failedRestore(["-age-identity-file", otherKey, url], out),
      /no given identity or passphrase matches it/,
    );
    const env = { WALSHIP_AGE_IDENTITY_FILE: otherKey };
    assert.match(await failedRestore([url], out, env), /no given identity or passphrase matches it/);
    assert.match(
      await failedRestore(["-age-identity-file", keyFile, `file://${plainReplica}`], out),
      /is not encrypted, but age keys were given/,
    );

    const [file] = await replicaFiles(replica);
    const raw = await Deno.readFile(file!);
    raw[raw.length - 20]! ^= 0x40;
    await Deno.writeFile(file!, raw);
    assert.match(
      await failedRestore(["-age-identity-file", keyFile, url], out),
      /error: Cannot decrypt .*: the ciphertext is damaged or was modified\n?$/,
    );
    // The config says which replica is encrypted: a key in the environment leaves the plaintext one alone.
    const plain = await runWalship(
      ["restore", "-o", out, "-config", config, "-replica", "file-2", dbPath],
      env,
    );
    assert.equal(plain.code, 0, plain.stderr);
  } finally {
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("age passphrase: ${WALSHIP_PASSPHRASE} in the config, restore by env or file; a wrong one fails", async () => {
  await ensureAgeCli();
  const dir = await Deno.makeTempDir({ prefix: "walship-age-pw-" });
  const dbPath = join(dir, "app.db");
  const replica = join(dir, "replica");
  const config = join(dir, "walship.yml");
  const passphrase = "correct horse battery staple";
  await Deno.writeTextFile(
    config,
    `dbs:\n  - path: ${dbPath}\n    replica:\n      url: file://${replica}\n` +
      "      age:\n        passphrase: ${WALSHIP_PASSPHRASE}\n",
  );
  const app = openApp(dbPath);
  try {
    app.insert(1, 200);
    const env = { WALSHIP_PASSPHRASE: passphrase };
    const r = await runWalship(["replicate", "-once", "-config", config], env);
    assert.equal(r.code, 0, r.stderr);
    const out = join(dir, "out.db");
    const restored = await runWalship(["restore", "-o", out, `file://${replica}`], env);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(dumpDigest(out), dumpDigest(dbPath));

    const wrongFile = join(dir, "wrong.txt");
    await Deno.writeTextFile(wrongFile, "correct horse battery stapler\n");
    const stderr = await failedRestore(
      ["-age-passphrase-file", wrongFile, `file://${replica}`],
      join(dir, "x.db"),
    );
    assert.match(stderr, /no given identity or passphrase matches it/);
    assert.ok(!stderr.includes("horse"), stderr);

    // The age CLI reads the passphrase from a terminal only: give it one with script(1).
    const [file] = await replicaFiles(replica);
    const plainFile = join(dir, "plain.ltx");
    await run("script", ["-qec", `age -d -o ${plainFile} ${file}`, "/dev/null"], `${passphrase}\n`);
    assert.ok((await decodeLtx(await Deno.readFile(plainFile))).endsWith("-1"));
  } finally {
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

const SCHEDULE: MaintenanceSchedule = {
  levelIntervalsMs: [1000, 2000, 4000],
  snapshotIntervalMs: 10_000,
  retentionCheckIntervalMs: 1000,
  retentionEnabled: true,
  retention: { snapshotRetentionMs: 20_000, l0RetentionMs: 3000, keep: {} },
};

/** `store`, counting open() calls: a write-only replica must never be read. */
function countingOpens(store: ReplicaStore): ReplicaStore & { opens: number } {
  const counted = {
    opens: 0,
    list: store.list.bind(store),
    write: store.write.bind(store),
    remove: store.remove.bind(store),
    describe: store.describe.bind(store),
    open: (...args: Parameters<ReplicaStore["open"]>) => (counted.opens++, store.open(...args)),
  };
  return counted;
}

Deno.test("age write-only: compaction, snapshots and retention from local plaintext; another machine restores", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-age-wo-" });
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath, { timeout: 2000 });
  app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)");
  let clock = Date.UTC(2026, 10, 22, 12, 0, 0, 100);
  const now = () => clock;
  const db = await Database.open(dbPath, { now, minCheckpointPageCount: 50, checkpointIntervalMs: 0 });
  const replicaDir = join(dir, "replica");
  const store = countingOpens(
    withEncryption(new FileStore(replicaDir), { recipients: [RECIPIENT], identities: [] }),
  );
  const replicator = new Replicator(db, [new Replica(db, store, { now })], { schedule: SCHEDULE, now });
  const digests = new Map<bigint, string>();
  try {
    for (let step = 0; step < 120; step++) {
      clock += 250;
      app.prepare("INSERT INTO t(v, n) VALUES (?, ?)").run(`row ${step} `.repeat(20), step);
      app.prepare("UPDATE t SET n = n + 1 WHERE id % 7 = ?").run(step % 7);
      await replicator.syncOnce({ maintain: true, enforceRetention: true });
      digests.set(db.txid, dumpDigest(dbPath).digest);
    }
  } finally {
    await db.close();
    app.close();
  }
  assert.equal(store.opens, 0, "nothing was read back from the replica");
  const levels = await listAllLevels(store);
  for (const level of [1, 2, 3, 9]) assert.ok(levels.get(level)!.length > 0, `L${level} has files`);
  // The mirror holds exactly the compacted files the replica still lists.
  const mirror = LocalMirror.of(join(dir, ".app.db-walship"), store);
  for (const level of [1, 2, 3]) {
    const names = (files: { minTxid: bigint; maxTxid: bigint }[]) =>
      files.map((f) => `${f.minTxid}-${f.maxTxid}`);
    assert.deepEqual(names(await mirror.list(level)), names(levels.get(level)!), `mirror of L${level}`);
  }
  for (const file of await replicaFiles(replicaDir)) {
    const head = new TextDecoder().decode((await Deno.readFile(file)).subarray(0, AGE_MAGIC.length));
    assert.equal(head, AGE_MAGIC, file);
  }

  // Another machine: only the replica and the identity.
  const elsewhere = withEncryption(new FileStore(replicaDir), { recipients: [], identities: [IDENTITY] });
  const targets = [undefined, ...[2, 3].map((l) => levels.get(l)![0]!.maxTxid)];
  for (const txid of targets) {
    const plan = planFromListings(await listAllLevels(elsewhere), txid === undefined ? {} : { txid });
    const out = join(dir, `out-${txid}.db`);
    const result = await restoreToFile(elsewhere, plan, out, { integrityCheck: "quick" });
    assert.equal(dumpDigest(out).digest, digests.get(result.txid), `restore to ${result.txid}`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("age write-only from the CLI: replicate and snapshot with recipients only; restore needs the identity", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-age-wocli-" });
  const dbPath = join(dir, "app.db");
  const replica = join(dir, "replica");
  const config = join(dir, "walship.yml");
  await Deno.writeTextFile(
    config,
    `dbs:\n  - path: ${dbPath}\n    replica:\n      path: ${replica}\n      age:\n        recipients:\n          - ${RECIPIENT}\n`,
  );
  const app = openApp(dbPath);
  try {
    app.insert(1, 150);
    assert.equal((await runWalship(["replicate", "-once", "-config", config])).code, 0);
    app.insert(151, 50);
    const snap = await runWalship(["snapshot", "-config", config]);
    assert.equal(snap.code, 0, snap.stderr);
    assert.match(
      await failedRestore(["-config", config, dbPath], join(dir, "here.db")),
      /age recipients encrypt but cannot decrypt\nhint: this replica is write-only here/,
    );
    const machine = await Deno.makeTempDir({ prefix: "walship-age-other-" });
    const keyFile = join(machine, "key.txt");
    await Deno.writeTextFile(keyFile, `${IDENTITY}\n`);
    const out = join(machine, "app.db");
    const r = await runWalship(["restore", "-o", out, "-age-identity-file", keyFile, `file://${replica}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(dumpDigest(out), dumpDigest(dbPath));
    await Deno.remove(machine, { recursive: true });
  } finally {
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("age on s3:// and abs:// replicas: ciphertext in the bucket and the container, restores with the key", async () => {
  const s3 = await startS3Server();
  const azurite = await startAzurite();
  const dir = await Deno.makeTempDir({ prefix: "walship-age-cloud-" });
  try {
    await s3.createBucket("bkt");
    await azurite.createContainer("ctr");
    const dbPath = join(dir, "app.db");
    const config = join(dir, "walship.yml");
    const age = `        age: { recipients: [${RECIPIENT}] }\n`;
    await Deno.writeTextFile(
      config,
      `dbs:\n  - path: ${dbPath}\n    replicas:\n` +
        `      - url: s3://bkt/app?endpoint=127.0.0.1:${s3.port}&forcePathStyle=true\n${age}` +
        `      - url: abs://${AZURITE_ACCOUNT}@ctr/app?endpoint=${azurite.endpoint}\n${age}`,
    );
    const env = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      LITESTREAM_AZURE_ACCOUNT_KEY: AZURITE_KEY,
    };
    const app = openApp(dbPath);
    app.insert(1, 200);
    app.close();
    const r = await runWalship(["replicate", "-once", "-config", config], env);
    assert.equal(r.code, 0, r.stderr);

    const s3Objects = (await replicaFiles(join(s3.dataDir, "bkt"))).filter((f) =>
      f.endsWith("._S3rver_object")
    );
    assert.ok(s3Objects.length > 0);
    for (const f of s3Objects) {
      assert.equal(
        new TextDecoder().decode((await Deno.readFile(f)).subarray(0, AGE_MAGIC.length)),
        AGE_MAGIC,
      );
    }
    const container = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).getContainerClient("ctr");
    let blobs = 0;
    for await (const blob of container.listBlobsFlat({ prefix: "app/" })) {
      const raw = await container.getBlobClient(blob.name).downloadToBuffer();
      assert.equal(raw.subarray(0, AGE_MAGIC.length).toString(), AGE_MAGIC, blob.name);
      blobs++;
    }
    assert.ok(blobs > 0);

    const keyFile = join(dir, "key.txt");
    await Deno.writeTextFile(keyFile, `${IDENTITY}\n`);
    for (const name of ["s3", "abs"]) {
      const out = join(dir, `${name}.db`);
      const restore = [
        "restore",
        "-o",
        out,
        "-config",
        config,
        "-replica",
        name,
        "-age-identity-file",
        keyFile,
      ];
      const res = await runWalship([...restore, dbPath], env);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(dumpDigest(out), dumpDigest(dbPath));
    }
  } finally {
    await s3.stop();
    await azurite.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
