/**
 * A private scratch directory per process under `<state>/tmp/`, for files on their way to a replica
 * (snapshots, compactions). Each one is claimed by a flock on its `.lock` file, so a process can clear
 * what crashed processes left behind without touching the files of one still running (a `snapshot`
 * job uploading beside a `replicate`).
 */
import { join } from "node:path";
import { removeIfExists } from "../util/fs.ts";

export class ScratchSpace {
  readonly dir: string;
  #lock: Deno.FsFile;

  private constructor(dir: string, lock: Deno.FsFile) {
    this.dir = dir;
    this.#lock = lock;
  }

  static async create(parent: string): Promise<ScratchSpace> {
    await Deno.mkdir(parent, { recursive: true });
    await removeAbandoned(parent);
    const dir = join(parent, crypto.randomUUID().slice(0, 12));
    const lock = await Deno.open(`${dir}.lock`, { read: true, write: true, create: true });
    await lock.lock(true);
    await Deno.mkdir(dir, { recursive: true });
    return new ScratchSpace(dir, lock);
  }

  async close(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    await removeIfExists(`${this.dir}.lock`);
    this.#lock.close();
  }
}

/** Removes scratch directories whose owner is gone (their lock is free) and stray files. */
async function removeAbandoned(parent: string): Promise<void> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(parent)) entries.push(entry);
  const names = new Set(entries.map((e) => e.name));
  for (const entry of entries) {
    const path = join(parent, entry.name);
    if (entry.name.endsWith(".lock")) {
      const lock = await Deno.open(path, { read: true, write: true }).catch(() => null);
      if (!lock) continue;
      try {
        if (!(await lock.tryLock(true))) continue;
        await Deno.remove(path.slice(0, -".lock".length), { recursive: true }).catch(() => {});
        await removeIfExists(path);
      } finally {
        lock.close();
      }
    } else if (!names.has(`${entry.name}.lock`)) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
}
