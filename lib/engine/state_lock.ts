/**
 * Coordination of walship processes that share one database's local state directory, through flock(2)
 * locks on files in it (advisory, released by the kernel when a process dies, never stale):
 * - `state.lock`, held for each step that reads the WAL or writes local files, so two processes never
 *   hand out the same TXID (a `snapshot` cron job beside a running `replicate`);
 * - `replicate.lock`, held by a `replicate` for its whole life, so a second one fails at once.
 */
import { join } from "node:path";
import { WalshipError } from "../util/errors.ts";

async function openLockFile(metaPath: string, name: string): Promise<Deno.FsFile> {
  await Deno.mkdir(metaPath, { recursive: true });
  return await Deno.open(join(metaPath, name), { read: true, write: true, create: true });
}

/** The per-step lock of a state directory. */
export class StateLock {
  #file: Deno.FsFile;
  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  static async open(metaPath: string): Promise<StateLock> {
    return new StateLock(await openLockFile(metaPath, "state.lock"));
  }

  /** Runs `fn` holding the lock; waits while another process holds it. */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    await this.#file.lock(true);
    try {
      return await fn();
    } finally {
      await this.#file.unlock();
    }
  }

  close(): void {
    this.#file.close();
  }
}

/** Proof that no other `replicate` runs for this state directory; release it on exit. */
export interface ReplicateLock {
  release(): void;
}

/** Takes the replicate lock, or returns null when another process holds it. */
export async function tryReplicateLock(metaPath: string): Promise<ReplicateLock | null> {
  const file = await openLockFile(metaPath, "replicate.lock");
  if (!(await file.tryLock(true))) {
    file.close();
    return null;
  }
  return { release: () => file.close() };
}

/**
 * Takes the replicate lock or fails with a one-line error naming the database. Waits a little first:
 * a `snapshot` job holds it for a moment while it tidies the state directory.
 */
export async function takeReplicateLock(
  metaPath: string,
  dbPath: string,
  waitMs = 3000,
): Promise<ReplicateLock> {
  const deadline = Date.now() + waitMs;
  let lock = await tryReplicateLock(metaPath);
  while (!lock && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    lock = await tryReplicateLock(metaPath);
  }
  if (!lock) {
    throw new WalshipError(`Another walship replicate is already running for "${dbPath}"`, {
      hint: `stop it first (it holds ${join(metaPath, "replicate.lock")})`,
    });
  }
  return lock;
}
