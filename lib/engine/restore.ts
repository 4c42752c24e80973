/**
 * Rebuilds a database from a restore plan: applies the files in TXID order into `<out>.tmp` (newer pages
 * overwrite older ones, as a merge would), checks that every page 1..commit arrived and every checksum
 * holds, truncates to the final size, fsyncs and renames. Memory stays bounded: large files stream,
 * small ones are fetched ahead, `parallelism` at a time.
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
import { bytesStream, readAllBytes } from "../util/streams.ts";

export type IntegrityCheck = "none" | "quick" | "full";

export interface RestoreOptions {
  /** Concurrent downloads. @default 8 */
  parallelism?: number;
  /** Files up to this size are fetched ahead into memory. @default 8 MiB */
  prefetchMaxBytes?: number;
  /** @default "none" */
  integrityCheck?: IntegrityCheck;
  signal?: AbortSignal;
}

export interface RestoreResult {
  txid: bigint;
  pageSize: number;
  pageCount: number;
  bytesRead: number;
}

const WRITE_CHUNK = 1 << 20;
const EARLY_SYNC_BYTES = 128 << 20;

export async function restoreToFile(
  store: Pick<ReplicaStore, "open" | "describe">,
  plan: LtxFileInfo[],
  outPath: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const { parallelism = 8, prefetchMaxBytes = 8 << 20, integrityCheck = "none", signal } = options;
  for (const file of plan) {
    if (file.sizeBytes < 100) {
      throw new CorruptionError(`${describe(store, file)} is too small to be an LTX file`);
    }
  }
  const tmp = `${outPath}.tmp`;
  await removeIfExists(tmp);
  const fetched = new Map<number, Promise<Uint8Array>>();
  let nextToFetch = 0;
  const prefetch = (upTo: number) => {
    for (; nextToFetch < plan.length && nextToFetch <= upTo; nextToFetch++) {
      const file = plan[nextToFetch]!;
      if (file.sizeBytes > prefetchMaxBytes) continue; // streamed when its turn comes
      const p = readAllBytes(openResumable(store, file, { signal }));
      p.catch(() => {}); // observed when its turn comes
      fetched.set(nextToFetch, p);
    }
  };
  let pageSize = 0;
  let commit = 0;
  let writer: PageWriter | undefined;
  try {
    using out = await Deno.open(tmp, { write: true, createNew: true });
    for (let i = 0; i < plan.length; i++) {
      signal?.throwIfAborted();
      prefetch(i + parallelism - 1);
      const file = plan[i]!;
      const bytes = fetched.get(i);
      const stream = bytes ? bytesStream(await bytes) : openResumable(store, file, { signal });
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
      await decoder.forEachPage((pgno, data) => writer!.put(pgno, data));
      await decoder.finish();
    }
    await writer!.drain();
    checkComplete(writer!.written, commit, pageSize, plan);
    await out.truncate(commit * pageSize);
    await out.syncData();
  } catch (err) {
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

/**
 * Writes pages at their offsets: runs of consecutive pages coalesce into ~1 MiB writes, and each write
 * runs on Deno's blocking pool while the next pages decode (two buffers, one write in flight). The
 * output file is ours alone (no SQLite locks on it), so async ops on it are safe.
 */
class PageWriter {
  readonly #out: Deno.FsFile;
  readonly #pageSize: number;
  #buffer: Uint8Array;
  #spare: Uint8Array;
  #used = 0;
  #runStart = 0;
  #runNext = 0;
  #pending: Promise<void> = Promise.resolve();
  #syncing: Promise<void> = Promise.resolve();
  #unsynced = 0;
  written: Uint8Array = new Uint8Array(0);
  bytes = 0;

  constructor(out: Deno.FsFile, pageSize: number) {
    this.#out = out;
    this.#pageSize = pageSize;
    const size = Math.max(pageSize, Math.floor(WRITE_CHUNK / pageSize) * pageSize);
    this.#buffer = new Uint8Array(size);
    this.#spare = new Uint8Array(size);
  }

  /** Takes one page; `data` may be reused by the caller once this returns (it is copied before any wait). */
  put(pgno: number, data: Uint8Array): void | Promise<void> {
    if (pgno !== this.#runNext || this.#used + this.#pageSize > this.#buffer.length) {
      if (this.#used > 0) {
        const saved = data.slice();
        return this.flush().then(() => this.#place(pgno, saved));
      }
      this.#runStart = pgno;
    }
    this.#place(pgno, data);
  }

  #place(pgno: number, data: Uint8Array): void {
    if (this.#used === 0) this.#runStart = pgno;
    this.#buffer.set(data, this.#used);
    this.#used += this.#pageSize;
    this.#runNext = pgno + 1;
    if (pgno < this.written.length * 8) this.written[pgno >> 3]! |= 1 << (pgno & 7);
    this.bytes += this.#pageSize;
  }

  /** Starts writing the current run once the previous write is done. */
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const run = this.#buffer.subarray(0, this.#used);
    const position = (this.#runStart - 1) * this.#pageSize;
    await this.#pending;
    [this.#buffer, this.#spare] = [this.#spare, this.#buffer];
    this.#used = 0;
    this.#pending = this.#writeAt(run, position);
    this.#pending.catch(() => {}); // observed by the next flush or by drain()
    this.#unsynced += run.length;
    if (this.#unsynced >= EARLY_SYNC_BYTES) {
      // Start the disk writes now, beside the decoding, so the final fsync has only the tail to wait for.
      this.#unsynced = 0;
      const previous = this.#syncing;
      this.#syncing = previous.then(() => this.#out.syncData());
      this.#syncing.catch(() => {});
    }
  }

  /** Writes what is buffered and waits for every write. */
  async drain(): Promise<void> {
    await this.flush();
    await this.#pending;
    await this.#syncing;
  }

  async #writeAt(bytes: Uint8Array, position: number): Promise<void> {
    await this.#out.seek(position, Deno.SeekMode.Start);
    for (let at = 0; at < bytes.length;) at += await this.#out.write(bytes.subarray(at));
  }
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
