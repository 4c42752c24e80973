/**
 * Directory mode: the SQLite databases in a configured `dir` whose base name matches `pattern`. A file
 * counts only once it starts with SQLite's 16-byte magic (an application's brand-new, still empty file
 * is picked up by a later scan). SQLite's -wal, -shm and -journal files, temp files and walship's own
 * state directories are never candidates.
 */
import { join } from "node:path";
import { compileGlob } from "../config/glob.ts";
import { WalshipError } from "../util/errors.ts";

const SQLITE_MAGIC = new TextEncoder().encode("SQLite format 3\0");
const SIDE_FILE = /-(wal|shm|journal)$|\.tmp$/;

export interface DirectoryScanOptions {
  pattern: string;
  /** Also search subdirectories. @default false */
  recursive?: boolean;
  /**
   * Paths known to be databases, taken without reading their header. A process that replicates a
   * database must not open and close it: closing any descriptor of a file drops the process's SQLite
   * (POSIX) locks on it.
   */
  isKnown?: (path: string) => boolean;
}

/** Whether a path names a file walship never replicates itself: a SQLite side file or state in a `-walship` directory. */
export function isIgnoredPath(path: string): boolean {
  return SIDE_FILE.test(path) || /(^|\/)\.[^/]*-walship(\/|$)/.test(path);
}

/** Whether the file starts with SQLite's magic string. Missing or unreadable files are not databases. */
export async function isSqliteFile(path: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return false;
  }
  try {
    const head = new Uint8Array(SQLITE_MAGIC.length);
    let got = 0;
    while (got < head.length) {
      const n = await file.read(head.subarray(got));
      if (n === null) return false;
      got += n;
    }
    return head.every((b, i) => b === SQLITE_MAGIC[i]);
  } finally {
    file.close();
  }
}

/** Absolute paths of the databases in `dir`, sorted. A missing directory is an error. */
export async function scanDirectory(dir: string, options: DirectoryScanOptions): Promise<string[]> {
  const match = compileGlob(options.pattern);
  const found: string[] = [];
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (isIgnoredPath(path)) continue;
      if (entry.isDirectory) {
        if (options.recursive) await walk(path).catch(ignoreVanished);
      } else if (
        entry.isFile && match.test(entry.name) && (options.isKnown?.(path) || await isSqliteFile(path))
      ) {
        found.push(path);
      }
    }
  };
  try {
    await walk(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new WalshipError(`Directory "${dir}" does not exist`, {
        hint: "create it, or fix dir: in the config",
      });
    }
    if (err instanceof Deno.errors.NotADirectory) throw new WalshipError(`"${dir}" is not a directory`);
    throw new WalshipError(`Cannot read directory "${dir}": ${(err as Error).message}`, { cause: err });
  }
  return found.sort();
}

/** A subdirectory removed while it was being walked is simply not there any more. */
function ignoreVanished(err: unknown): void {
  if (!(err instanceof Deno.errors.NotFound)) throw err;
}
