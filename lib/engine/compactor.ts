/**
 * Compaction of one replica level into the next (spec §4.2): the source files past the destination's
 * end, split into contiguous runs, are merged (newest page wins) into one file per run. The merge
 * streams through a scratch file, so memory holds one page per input whatever the database size, and
 * the upload can be replayed on retry. Works only through the store: it knows nothing of SQLite.
 */
import { compactLtx } from "../ltx/merge.ts";
import { formatTxid, ltxFileName } from "../ltx/txid.ts";
import type { LtxFileInfo, ReplicaStore } from "../storage/store.ts";
import { BufferedFileWriter, removeIfExists } from "../util/fs.ts";
import { fileChunks } from "../util/file_chunks.ts";
import { openLazily, yielding } from "../util/streams.ts";
import { join } from "node:path";
import { openResumable } from "./resumable.ts";

export interface CompactOptions {
  /** A local copy of a source file, preferred over a download; null when there is none. */
  openLocal?: (file: LtxFileInfo) => Promise<ReadableStream<Uint8Array> | null>;
  /** Directory for the merged file before upload (`*.tmp`, removed afterwards). */
  scratchDir: string;
  /** Inputs merged into one output at most: bounds open streams and buffers. @default 32 */
  maxInputs?: number;
  /**
   * Awaited before each chunk of merged output: the merge shares the thread with the WAL copy and
   * shipping, and waits while they have work that a commit's lag depends on.
   */
  yieldTo?: () => Promise<void>;
  signal?: AbortSignal;
}

/**
 * Groups source files (TXID order) that start after `after` into runs a merge accepts: each file
 * starts at most one past the previous end and reaches further. A gap starts a new run (the files
 * before it are still worth compacting); a file the previous one already covers is skipped.
 */
export function compactionRuns(sources: LtxFileInfo[], after: bigint, maxInputs = 32): LtxFileInfo[][] {
  const runs: LtxFileInfo[][] = [];
  let run: LtxFileInfo[] = [];
  let end = after;
  for (const file of sources) {
    if (file.minTxid <= after) continue;
    if (run.length > 0 && file.maxTxid <= end) continue;
    if (run.length > 0 && (file.minTxid > end + 1n || run.length >= maxInputs)) {
      runs.push(run);
      run = [];
    }
    run.push(file);
    end = file.maxTxid;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Merges one run into a new file of `level` and uploads it; returns the file as stored. */
export async function compactRun(
  store: ReplicaStore,
  run: LtxFileInfo[],
  level: number,
  options: CompactOptions,
): Promise<LtxFileInfo> {
  const first = run[0]!;
  const last = run.at(-1)!;
  const name = ltxFileName(first.minTxid, last.maxTxid);
  await Deno.mkdir(options.scratchDir, { recursive: true });
  const scratch = join(
    options.scratchDir,
    `compact-L${level}-${name}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  try {
    const inputs = run.map((file) => ({
      name: `${store.describe()} L${file.level} ${formatTxid(file.minTxid)}-${formatTxid(file.maxTxid)}`,
      stream: openLazily(async () =>
        (await options.openLocal?.(file)) ?? openResumable(store, file, { signal: options.signal })
      ),
    }));
    let header;
    {
      using out = await Deno.open(scratch, { write: true, createNew: true });
      const writer = new BufferedFileWriter(out);
      const yieldTo = options.yieldTo;
      ({ header } = await compactLtx(inputs, async (chunk) => {
        if (yieldTo) await yieldTo();
        await writer.write(chunk);
      }));
      await writer.flush();
    }
    const sizeBytes = (await Deno.stat(scratch)).size;
    return await store.write(
      { level, minTxid: header.minTxid, maxTxid: header.maxTxid, createdAt: header.timestamp },
      {
        sizeBytes,
        localPath: scratch,
        movable: true,
        // The upload, too, waits while a shipment is due: a large merge must not hold back the next L0.
        open: () => yielding(openLazily(async () => fileChunks(await Deno.open(scratch))), options.yieldTo),
        ...(options.yieldTo ? { pace: options.yieldTo } : {}),
      },
      options.signal,
    );
  } finally {
    await removeIfExists(scratch);
  }
}

/** Compacts every run of `sources` past `after` into `level`; returns the files written. */
export async function compactInto(
  store: ReplicaStore,
  sources: LtxFileInfo[],
  after: bigint,
  level: number,
  options: CompactOptions,
): Promise<LtxFileInfo[]> {
  const written: LtxFileInfo[] = [];
  for (const run of compactionRuns(sources, after, options.maxInputs)) {
    options.signal?.throwIfAborted();
    written.push(await compactRun(store, run, level, options));
  }
  return written;
}
