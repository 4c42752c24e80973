/**
 * Issue 8 benchmark: the cost of age encryption. One workload (batches of 1 KB random rows on a fake
 * clock, compacted at 5 s and 20 s) is replicated in process to a plaintext file replica, to one
 * encrypted to an age recipient and to one encrypted with a passphrase; the CPU time of replication
 * (WAL copy, LTX encoding, encryption, compaction through the local mirror, upload) is compared, then
 * the latest state is restored from each with a fresh store, as a restore process would. Plus typage's
 * STREAM throughput on its own, streamed in 1 MiB chunks and as one buffer.
 */
import { DatabaseSync } from "node:sqlite";
import process from "node:process";
import { join } from "node:path";
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from "age-encryption";
import type { AgeKeys } from "../../lib/config/age_keys.ts";
import { Database } from "../../lib/engine/database.ts";
import { Replica } from "../../lib/engine/replica.ts";
import { Replicator } from "../../lib/engine/replicator.ts";
import { restoreToFile } from "../../lib/engine/restore.ts";
import { listAllLevels, planFromListings } from "../../lib/engine/restore_plan.ts";
import { DEFAULT_SCHEDULE, type MaintenanceSchedule } from "../../lib/engine/schedule.ts";
import { withEncryption } from "../../lib/storage/encryption.ts";
import { FileStore } from "../../lib/storage/file.ts";
import type { Figure } from "./core.ts";

const SCHEDULE: MaintenanceSchedule = { ...DEFAULT_SCHEDULE, levelIntervalsMs: [5000, 20_000] };
const ROWS_PER_BATCH = 256;

interface Mode {
  name: string;
  /** Keys the replicating process has; undefined: plaintext. */
  write?: AgeKeys;
  /** Keys the restoring process has. */
  read?: AgeKeys;
}

interface ModeResult {
  cpuMs: number;
  restoreMs: number;
  storedMiB: number;
  files: number;
}

async function runMode(mode: Mode, batches: number): Promise<ModeResult> {
  const dir = await Deno.makeTempDir({ prefix: "walship-bench-age-" });
  const dbPath = join(dir, "app.db");
  const app = new DatabaseSync(dbPath);
  app.exec("PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  let clock = Date.UTC(2026, 10, 22, 6, 0, 0);
  const now = () => clock;
  const db = await Database.open(dbPath, { now, checkpointIntervalMs: 0 });
  const replicaDir = join(dir, "replica");
  const store = withEncryption(new FileStore(replicaDir), mode.write);
  const replicator = new Replicator(db, [new Replica(db, store, { now })], { schedule: SCHEDULE, now });
  const insert = app.prepare("INSERT INTO t(v) VALUES (randomblob(1000))");
  let cpuMicros = 0;
  for (let batch = 0; batch < batches; batch++) {
    clock += 1000;
    app.exec("BEGIN");
    for (let i = 0; i < ROWS_PER_BATCH; i++) insert.run();
    app.exec("COMMIT");
    const before = process.cpuUsage();
    await replicator.syncOnce({ maintain: true, enforceRetention: true });
    const used = process.cpuUsage(before);
    cpuMicros += used.user + used.system;
  }
  await db.close();
  app.close();
  const runs: number[] = [];
  let files = 0;
  for (let i = 0; i < 3; i++) {
    const out = join(dir, `out-${i}.db`);
    const t0 = performance.now();
    const reader = withEncryption(new FileStore(replicaDir), mode.read);
    const plan = planFromListings(await listAllLevels(reader), {});
    await restoreToFile(reader, plan, out);
    runs.push(performance.now() - t0);
    files = plan.length;
    await Deno.remove(out);
  }
  let storedBytes = 0;
  for (const files of (await listAllLevels(new FileStore(replicaDir))).values()) {
    storedBytes += files.reduce((n, f) => n + f.sizeBytes, 0);
  }
  await Deno.remove(dir, { recursive: true });
  return {
    cpuMs: cpuMicros / 1000,
    restoreMs: runs.sort((a, b) => a - b)[1]!,
    storedMiB: storedBytes / 2 ** 20,
    files,
  };
}

/** typage alone: MB/s through encrypt and decrypt, streamed in 1 MiB chunks and as one buffer. */
async function streamThroughput(identity: string, mib: number): Promise<Figure[]> {
  const data = new Uint8Array(mib << 20).map((_, i) => (i * 2654435761) >>> 24);
  const encrypter = new Encrypter();
  encrypter.addRecipient(await identityToRecipient(identity));
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  const chunks = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < data.length; at += 1 << 20) {
          controller.enqueue(data.subarray(at, at + (1 << 20)));
        }
        controller.close();
      },
    });
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    let n = 0;
    for await (const chunk of stream) n += chunk.length;
    return n;
  };
  const mbps = (ms: number) => data.length / 1e6 / (ms / 1000);
  let t0 = performance.now();
  const cipher = await encrypter.encrypt(data);
  const bufferEncrypt = performance.now() - t0;
  t0 = performance.now();
  await decrypter.decrypt(cipher);
  const bufferDecrypt = performance.now() - t0;
  t0 = performance.now();
  await drain(await encrypter.encrypt(chunks()));
  const streamEncrypt = performance.now() - t0;
  const cipherChunks = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < cipher.length; at += 1 << 20) {
        controller.enqueue(cipher.subarray(at, at + (1 << 20)));
      }
      controller.close();
    },
  });
  t0 = performance.now();
  await drain(await decrypter.decrypt(cipherChunks));
  const streamDecrypt = performance.now() - t0;
  return [
    {
      name: `typage encrypt ${mib} MiB, 1 MiB chunks`,
      value: mbps(streamEncrypt),
      unit: "MB/s",
      peer: { name: "one buffer", value: mbps(bufferEncrypt) },
    },
    {
      name: `typage decrypt ${mib} MiB, 1 MiB chunks`,
      value: mbps(streamDecrypt),
      unit: "MB/s",
      peer: { name: "one buffer", value: mbps(bufferDecrypt) },
    },
  ];
}

/** `batches` one-second batches of 256 KB each, replicated and restored in the three modes. */
export async function benchEncryption(batches = 240): Promise<Figure[]> {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const passphrase = "correct horse battery staple";
  const plain = await runMode({ name: "plaintext" }, batches);
  const modes: Mode[] = [
    {
      name: "age recipient",
      write: { recipients: [recipient], identities: [] },
      read: { recipients: [], identities: [identity] },
    },
    {
      name: "age passphrase",
      write: { recipients: [], identities: [], passphrase },
      read: { recipients: [], identities: [], passphrase },
    },
  ];
  const workload = `${batches}×${ROWS_PER_BATCH} KB`;
  const figures: Figure[] = [];
  for (const mode of modes) {
    const result = await runMode(mode, batches);
    figures.push(
      {
        name: `replicate CPU, ${mode.name} (${workload})`,
        value: result.cpuMs,
        unit: "ms",
        peer: { name: "plaintext", value: plain.cpuMs },
      },
      {
        name: `restore latest, ${mode.name} (${result.files} files, ${result.storedMiB.toFixed(0)} MiB)`,
        value: result.restoreMs,
        unit: "ms",
        peer: {
          name: `plaintext (${plain.files} files, ${plain.storedMiB.toFixed(0)} MiB)`,
          value: plain.restoreMs,
        },
      },
    );
  }
  figures.push(...await streamThroughput(identity, 64));
  return figures;
}
