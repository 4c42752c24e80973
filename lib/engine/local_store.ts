/**
 * The local state directory of one database (`.<dbfile>-walship` beside it): the LTX files written from
 * the WAL, laid out as a file replica (`ltx/<level>/<min>-<max>.ltx`). The newest L0 file is the durable
 * replication position: a restart continues from its header.
 */
import { LtxDecoder } from "../ltx/decoder.ts";
import type { LtxHeader } from "../ltx/header.ts";
import { FileStore } from "../storage/file.ts";
import type { LtxFileInfo } from "../storage/store.ts";
import { ltxFileName } from "../ltx/txid.ts";
import { basename, dirname, join } from "node:path";
import { BufferedFileWriter, removeIfExists, syncDir, tempPathFor } from "../util/fs.ts";

/** Default state directory for a database path. */
export function defaultMetaPath(dbPath: string): string {
  return join(dirname(dbPath), `.${basename(dbPath)}-walship`);
}

export class LocalStore extends FileStore {
  constructor(metaPath: string) {
    super(metaPath);
  }

  /** Where a local file of a level lives. */
  pathOf(level: number, minTxid: bigint, maxTxid: bigint): string {
    return join(this.root, "ltx", String(level), ltxFileName(minTxid, maxTxid));
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
   * the same file: the replica's copy wins).
   */
  async openCopy(file: LtxFileInfo): Promise<ReadableStream<Uint8Array> | null> {
    const path = this.pathOf(file.level, file.minTxid, file.maxTxid);
    const info = await Deno.stat(path).catch(() => null);
    if (!info || info.size !== file.sizeBytes) return null;
    try {
      return await this.open(file);
    } catch {
      return null; // pruned since the stat
    }
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
