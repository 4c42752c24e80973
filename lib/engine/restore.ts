/**
 * Rebuilds a database from a restore plan: applies the files in TXID order into `<out>.tmp` (newer pages
 * overwrite older ones, as a merge would), checks that every page 1..commit arrived and every checksum
 * holds, truncates to the final size, fsyncs and renames. Memory stays bounded: files are fetched ahead,
 * `parallelism` at a time, while they fit in a byte budget; a file larger than the budget streams.
 */
import { DatabaseSync } from "node:sqlite";
import { LtxDecoder } from "../ltx/decoder.ts";
import { lockPgno } from "../ltx/header.ts";
import { formatTxid } from "../ltx/txid.ts";
import type { LtxFileInfo, ReplicaStore } from "../storage/store.ts";
import { CorruptionError, NotFoundError, WalshipError } from "../util/errors.ts";
import { planRestore, type RestoreTarget } from "./restore_plan.ts";
import { removeIfExists, syncDir } from "../util/fs.ts";
import { dirname } from "node:path";
import { openResumable } from "./resumable.ts";
import { chunksStream, readAllChunks } from "../util/streams.ts";
import { keepReadBuffers, READ_BUFFER_BYTES } from "../util/read_buffers.ts";
import { PageWritePool } from "./page_write_pool.ts";
import { PageWriter } from "./page_writer.ts";

export type IntegrityCheck = "none" | "quick" | "full";

export interface RestoreOptions {
  /** Concurrent downloads. @default 8 */
  parallelism?: number;
  /** Bytes of files fetched ahead into memory at most; larger files stream when their turn comes. @default 32 MiB */
  prefetchBudgetBytes?: number;
  /** @default "none" */
  integrityCheck?: IntegrityCheck;
  /** Files this large are decoded by Workers beside this thread; smaller ones inline. @default 32 MiB */
  parallelMinBytes?: number;
  /** Workers beside this thread's own lane. @default one per further core, at most 3 */
  workers?: number;
  signal?: AbortSignal;
}

export interface RestoreResult {
  txid: bigint;
  pageSize: number;
  pageCount: number;
  bytesRead: number;
}

export async function restoreToFile(
  store: Pick<ReplicaStore, "open" | "describe">,
  plan: LtxFileInfo[],
  outPath: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const { parallelism = 8, prefetchBudgetBytes = 32 << 20, integrityCheck = "none", signal } = options;
  const { parallelMinBytes = 32 << 20, workers = Math.min(3, (navigator.hardwareConcurrency || 1) - 1) } =
    options;
  for (const file of plan) {
    if (file.sizeBytes < 100) {
      throw new CorruptionError(`${describe(store, file)} is too small to be an LTX file`);
    }
  }
  // Files fetched ahead hold their read buffers until decoded; keep them all for the next files.
  using _spares = keepReadBuffers(Math.ceil(prefetchBudgetBytes / READ_BUFFER_BYTES) + parallelism);
  const tmp = `${outPath}.tmp`;
  await removeIfExists(tmp);
  const fetched = new Map<number, Promise<Uint8Array[]>>();
  let nextToFetch = 0;
  let heldBytes = 0; // of files fetched ahead and not yet decoded
  const prefetch = (upTo: number) => {
    for (; nextToFetch < plan.length && nextToFetch <= upTo; nextToFetch++) {
      const file = plan[nextToFetch]!;
      if (file.sizeBytes > prefetchBudgetBytes) continue; // streamed when its turn comes
      if (heldBytes + file.sizeBytes > prefetchBudgetBytes) break; // fetched once earlier ones are done
      heldBytes += file.sizeBytes;
      const p = readAllChunks(openResumable(store, file, { signal }));
      p.catch(() => {}); // observed when its turn comes
      fetched.set(nextToFetch, p);
    }
  };
  let pageSize = 0;
  let commit = 0;
  let writer: PageWriter | undefined;
  let pool: PageWritePool | undefined;
  let poolFailed = false;
  try {
    using out = await Deno.open(tmp, { write: true, createNew: true });
    for (let i = 0; i < plan.length; i++) {
      signal?.throwIfAborted();
      prefetch(i + parallelism - 1);
      const file = plan[i]!;
      const chunks = fetched.get(i);
      const stream = chunks ? chunksStream(await chunks) : openResumable(store, file, { signal });
      fetched.delete(i);
      const decoder = new LtxDecoder(stream, { name: describe(store, file) });
      const header = await decoder.readHeader();
      if (header.minTxid !== file.minTxid || header.maxTxid !== file.maxTxid) {
        await decoder.cancel();
        throw new CorruptionError(
          `${describe(store, file)} holds TXIDs ${formatTxid(header.minTxid)}-${
            formatTxid(header.maxTxid)
          }, not what its name says`,
        );
      }
      if (i === 0) {
        pageSize = header.pageSize;
        writer = new PageWriter(out, pageSize);
      } else if (header.pageSize !== pageSize) {
        await decoder.cancel();
        throw new CorruptionError(
          `${describe(store, file)} has page size ${header.pageSize}, expected ${pageSize}`,
        );
      }
      commit = header.commit;
      if (writer!.written.length * 8 <= commit) writer!.written = grow(writer!.written, commit);
      if (file.sizeBytes >= parallelMinBytes && workers > 0 && !poolFailed) {
        await writer!.drain(); // older versions of these pages land before the workers write
        // Workers only make it faster: where they cannot start, the file is decoded inline.
        pool ??= await PageWritePool.open(tmp, workers).catch(() => undefined);
        poolFailed = pool === undefined;
      }
      if (pool && file.sizeBytes >= parallelMinBytes) {
        const lanes = pool;
        await decoder.forEachBatch((batch) => {
          writer!.noteBatch(batch);
          return lanes.decode(batch);
        }, { inFlight: 2 * (workers + 1), allocate: (size) => lanes.allocate(size) });
      } else {
        await decoder.forEachPage((pgno, data) => writer!.put(pgno, data));
      }
      await decoder.finish();
      if (chunks) heldBytes -= file.sizeBytes;
    }
    await pool?.close();
    await writer!.drain();
    checkComplete(writer!.written, commit, pageSize, plan);
    await out.truncate(commit * pageSize);
    await out.syncData();
  } catch (err) {
    pool?.terminate();
    await removeIfExists(tmp);
    throw err;
  }
  // Sidecars of an older database beside the new file would corrupt it on first open.
  for (const suffix of ["-wal", "-shm", "-journal"]) await removeIfExists(outPath + suffix);
  await Deno.rename(tmp, outPath);
  await syncDir(dirname(outPath) || ".");
  if (integrityCheck !== "none") await checkIntegrity(outPath, integrityCheck);
  return { txid: plan.at(-1)!.maxTxid, pageSize, pageCount: commit, bytesRead: writer!.bytes };
}

function checkComplete(written: Uint8Array, commit: number, pageSize: number, plan: LtxFileInfo[]): void {
  const lock = lockPgno(pageSize);
  for (let p = 1; p <= commit; p++) {
    if (p !== lock && !(written[p >> 3]! & (1 << (p & 7)))) {
      throw new CorruptionError(
        `Restore plan ${formatTxid(plan[0]!.minTxid)}-${
          formatTxid(plan.at(-1)!.maxTxid)
        } never wrote page ${p}`,
        { hint: "the replica is incomplete; restore an earlier point in time" },
      );
    }
  }
}

function grow(bits: Uint8Array, commit: number): Uint8Array {
  const next = new Uint8Array(Math.ceil((commit + 1) / 8));
  next.set(bits);
  return next;
}

async function checkIntegrity(path: string, mode: "quick" | "full"): Promise<void> {
  let result: string;
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare(mode === "quick" ? "PRAGMA quick_check" : "PRAGMA integrity_check").all();
    result = rows.map((r) => String(Object.values(r as Record<string, unknown>)[0])).join("; ");
  } finally {
    db.close();
  }
  if (result !== "ok") {
    for (const p of [path, `${path}-wal`, `${path}-shm`]) await removeIfExists(p);
    throw new CorruptionError(
      `Restored database failed the ${mode} integrity check: ${result.slice(0, 200)}`,
    );
  }
  for (const p of [`${path}-wal`, `${path}-shm`]) await removeIfExists(p);
}

function describe(store: Pick<ReplicaStore, "describe">, file: LtxFileInfo): string {
  return `${store.describe()} L${file.level} ${formatTxid(file.minTxid)}-${formatTxid(file.maxTxid)}`;
}

/** Refuses to overwrite unless forced: a directory never, a non-empty file or SQLite sidecars only with `force`. The old file stays until the new one is complete. */
export async function prepareOutputPath(path: string, force: boolean): Promise<void> {
  const info = await Deno.stat(path).catch(() => null);
  if (info?.isDirectory) throw new WalshipError(`Output path "${path}" is a directory`);
  const sidecars = [];
  for (const suffix of ["-wal", "-shm", "-journal"]) {
    if (await Deno.stat(path + suffix).catch(() => null)) sidecars.push(path + suffix);
  }
  if (!force && ((info && info.size > 0) || sidecars.length > 0)) {
    throw new WalshipError(`Output database "${path}" already exists`, {
      hint: "choose another -o path, or pass -force to overwrite it",
    });
  }
}

/**
 * Plans and restores, planning again when a planned file disappears meanwhile: on a live replica,
 * compaction and retention remove files a plan made a moment ago may name. `plan` is the first plan,
 * made by the caller (so it can report "no backup" or print it first).
 */
export async function restoreWithReplanning(
  store: Pick<ReplicaStore, "open" | "list" | "describe">,
  plan: LtxFileInfo[],
  target: RestoreTarget,
  outPath: string,
  options: RestoreOptions = {},
): Promise<RestoreResult & { plan: LtxFileInfo[] }> {
  for (let attempt = 1;; attempt++) {
    try {
      return { ...await restoreToFile(store, plan, outPath, options), plan };
    } catch (err) {
      if (!(err instanceof NotFoundError) || attempt >= 4) throw err;
      plan = await planRestore(store, target, options.signal);
    }
  }
}
