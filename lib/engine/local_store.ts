/**
 * The local state directory of one database (`.<dbfile>-walship` beside it): the LTX files written from
 * the WAL, laid out as a file replica (`ltx/<level>/<min>-<max>.ltx`). The newest L0 file is the durable
 * replication position: a restart continues from its header.
 */
import { LtxDecoder } from "../ltx/decoder.ts";
import type { LtxHeader } from "../ltx/header.ts";
import { FileStore } from "../storage/file.ts";
import type { LtxFileInfo, LtxFileRef, ReplicaStore, WriteBody } from "../storage/store.ts";
import { basename, dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { BufferedFileWriter, removeIfExists, syncDir, tempPathFor } from "../util/fs.ts";
import { fileChunks } from "../util/file_chunks.ts";

/** Default state directory for a database path. */
export function defaultMetaPath(dbPath: string): string {
  return join(dirname(dbPath), `.${basename(dbPath)}-walship`);
}

export class LocalStore extends FileStore {
  constructor(metaPath: string) {
    super(metaPath);
  }

  /** Removes partial LTX files a crash left behind. */
  async removeLeftovers(): Promise<void> {
    for (const dir of [join(this.root, "ltx", "0"), join(this.root, "ltx", "9")]) {
      try {
        for await (const entry of Deno.readDir(dir)) {
          if (entry.name.endsWith(".tmp")) await removeIfExists(join(dir, entry.name));
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }

  /**
   * A local copy of a replica file, or null when there is none or its size differs (then it is not
   * the same file: the replica's copy wins). An encrypted replica lists the LTX size apart.
   */
  async openCopy(file: LtxFileInfo): Promise<ReadableStream<Uint8Array> | null> {
    const path = this.pathOf(file);
    let handle: Deno.FsFile;
    try {
      handle = await Deno.open(path, { read: true });
    } catch {
      return null; // none, or pruned
    }
    const info = await handle.stat().catch(() => null);
    if (!info || info.size !== (file.ltxSizeBytes ?? file.sizeBytes)) {
      handle.close();
      return null;
    }
    return fileChunks(handle, MERGE_READ_BYTES);
  }

  /** Reads just the header of a local file. */
  async readHeader(level: number, minTxid: bigint, maxTxid: bigint): Promise<LtxHeader> {
    const decoder = new LtxDecoder(await this.open({ level, minTxid, maxTxid }), {
      name: `${this.describe()} L${level} ${minTxid}-${maxTxid}`,
    });
    try {
      return await decoder.readHeader();
    } finally {
      await decoder.cancel();
    }
  }
}

/**
 * Plaintext copies of the files compaction writes (L1..L8) to one replica that stores files encrypted,
 * so every compaction input is local: a write-only replica (age recipients, no identity) cannot be read
 * back, and a readable one need not be downloaded and decrypted. Pruned to what the replica lists.
 */
export class LocalMirror extends LocalStore {
  /** The mirror of the replica `store` under the state directory `metaPath`. */
  static of(metaPath: string, store: Pick<ReplicaStore, "describe">): LocalMirror {
    const id = createHash("sha256").update(store.describe()).digest("hex").slice(0, 16);
    return new LocalMirror(join(metaPath, "mirror", id));
  }

  /** `store` with every write copied here first, so a file in the replica always has its local copy. */
  keepingCopies(store: ReplicaStore): ReplicaStore {
    return {
      list: (level, signal) => store.list(level, signal),
      open: (file, range, signal) => store.open(file, range, signal),
      remove: (files, signal) => store.remove(files, signal),
      describe: () => store.describe(),
      write: async (file, body, signal) => {
        await this.keep(file, body);
        return await store.write(file, body, signal);
      },
    };
  }

  async keep(file: LtxFileRef & { createdAt: number }, body: WriteBody): Promise<void> {
    await writeLocalFile(
      this.pathOf(file),
      file.createdAt,
      async (sink) => {
        for await (const chunk of body.open()) await sink(chunk);
      },
    );
  }

  /** Removes copies at those of `levels` that are compaction levels, and not in `kept` (retention removed them, or another process). */
  async prune(kept: readonly LtxFileRef[], levels: readonly number[]): Promise<void> {
    const names = new Set(kept.map((f) => this.pathOf(f)));
    for (const level of levels) {
      if (level < 1 || level > 8) continue;
      const gone = (await this.list(level)).filter((f) => !names.has(this.pathOf(f)));
      if (gone.length > 0) await this.remove(gone);
    }
  }
}

/**
 * Bytes per read of a compaction input, read on demand with nothing ahead: a merge of 30 L0 files
 * through 1 MiB read-ahead streams held 60+ MiB in buffers, most of them waiting for their turn.
 */
const MERGE_READ_BYTES = 128 << 10;

/** Writes a local LTX file atomically: temp file, fsync, rename, fsync dir, mtime = timestamp. */
export async function writeLocalFile(
  path: string,
  createdAt: number,
  fill: (sink: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<number> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  let size = 0;
  try {
    {
      using file = await Deno.open(tmp, { write: true, createNew: true });
      const out = new BufferedFileWriter(file);
      await fill((chunk) => out.write(chunk));
      await out.flush();
      await file.syncData();
      size = out.written;
    }
    const when = new Date(createdAt);
    await Deno.utime(tmp, when, when);
    await Deno.rename(tmp, path);
    await syncDir(dir);
    return size;
  } catch (err) {
    await removeIfExists(tmp);
    throw err;
  }
}
