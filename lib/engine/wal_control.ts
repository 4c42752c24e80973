/**
 * SQL-side control of one database: WAL mode, the long-lived read transaction that stops anyone else
 * from checkpointing past frames not yet copied, the write barrier, and checkpoints.
 * Uses only SQL (node:sqlite has no file_control), and adds no tables to the user's database.
 */
import { DatabaseSync } from "node:sqlite";
import { WalshipError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";

export type CheckpointMode = "PASSIVE" | "FULL" | "RESTART" | "TRUNCATE";

export interface CheckpointResult {
  busy: boolean;
  /** Frames in the WAL (mxFrame). */
  logFrames: number;
  /** Frames backfilled into the database file so far (cumulative). */
  checkpointedFrames: number;
}

export interface WalControlOptions {
  /** Busy timeout of walship's own connections. @default 1000 */
  busyTimeoutMs?: number;
  logger: Logger;
}

export class WalControl {
  #reader: DatabaseSync;
  #writer: DatabaseSync;
  #readLockHeld = false;

  private constructor(reader: DatabaseSync, writer: DatabaseSync) {
    this.#reader = reader;
    this.#writer = writer;
  }

  /** Opens two connections, switches the database to WAL mode if needed and takes the read lock. */
  static open(path: string, options: WalControlOptions): WalControl {
    const timeout = options.busyTimeoutMs ?? 1000;
    let reader: DatabaseSync | undefined;
    let writer: DatabaseSync | undefined;
    try {
      reader = new DatabaseSync(path, { timeout });
      writer = new DatabaseSync(path, { timeout });
      for (const db of [reader, writer]) db.exec("PRAGMA wal_autocheckpoint = 0");
      const mode = String(
        (reader.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
      );
      if (mode.toLowerCase() !== "wal") {
        const set = reader.prepare("PRAGMA journal_mode = wal").get() as { journal_mode: string };
        if (String(set.journal_mode).toLowerCase() !== "wal") {
          throw new WalshipError(
            `Cannot switch "${path}" to WAL mode: journal mode is still "${set.journal_mode}"`,
          );
        }
        options.logger.info("switched database to WAL mode", { db: path, was: mode });
      }
      const control = new WalControl(reader, writer);
      control.acquireReadLock();
      return control;
    } catch (err) {
      reader?.close();
      writer?.close();
      if (err instanceof WalshipError) throw err;
      throw new WalshipError(`Cannot open database "${path}": ${sqliteMessage(err)}`, { cause: err });
    }
  }

  pageSize(): number {
    return Number((this.#reader.prepare("PRAGMA page_size").get() as { page_size: number }).page_size);
  }

  /** Starts (or keeps) the read transaction that pins the WAL. */
  acquireReadLock(): void {
    if (this.#readLockHeld) return;
    this.#reader.exec("BEGIN");
    try {
      // Reading the schema makes the transaction take a WAL read mark; BEGIN alone takes nothing.
      this.#reader.prepare("SELECT count(*) FROM sqlite_schema").get();
    } catch (err) {
      this.#reader.exec("ROLLBACK");
      throw err;
    }
    this.#readLockHeld = true;
  }

  releaseReadLock(): void {
    if (!this.#readLockHeld) return;
    this.#reader.exec("ROLLBACK");
    this.#readLockHeld = false;
  }

  get readLockHeld(): boolean {
    return this.#readLockHeld;
  }

  /** Takes SQLite's write lock so no commit lands; false when the app holds it past the busy timeout. */
  tryBeginBarrier(): boolean {
    try {
      this.#writer.exec("BEGIN IMMEDIATE");
      return true;
    } catch (err) {
      if (isBusy(err)) return false;
      throw err;
    }
  }

  endBarrier(): void {
    if (this.#writer.isTransaction) this.#writer.exec("ROLLBACK");
  }

  /** Runs a checkpoint on the reader connection (whose read lock must be released first). */
  checkpoint(mode: CheckpointMode): CheckpointResult {
    try {
      const row = this.#reader.prepare(`PRAGMA wal_checkpoint(${mode})`).get() as Record<string, number>;
      return {
        busy: Number(row.busy) !== 0,
        logFrames: Number(row.log),
        checkpointedFrames: Number(row.checkpointed),
      };
    } catch (err) {
      if (isBusy(err)) return { busy: true, logFrames: -1, checkpointedFrames: -1 };
      throw err;
    }
  }

  /**
   * Forces a WAL write without touching user data: rewrites user_version with its own value under the
   * write lock. Used to give an empty WAL a header (and salts) to replicate from.
   */
  touchWal(): void {
    this.#writer.exec("BEGIN IMMEDIATE");
    try {
      const row = this.#writer.prepare("PRAGMA user_version").get() as { user_version: number };
      this.#writer.exec(`PRAGMA user_version = ${Number(row.user_version)}`);
      this.#writer.exec("COMMIT");
    } catch (err) {
      if (this.#writer.isTransaction) this.#writer.exec("ROLLBACK");
      throw err;
    }
  }

  close(): void {
    try {
      this.endBarrier();
      this.releaseReadLock();
    } finally {
      this.#writer.close();
      this.#reader.close();
    }
  }
}

function isBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked|SQLITE_BUSY|database table is locked/i.test(err.message);
}

export function sqliteMessage(err: unknown): string {
  return err instanceof Error ? err.message.replace(/^Error:\s*/, "") : String(err);
}
