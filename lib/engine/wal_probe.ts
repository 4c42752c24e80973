/**
 * A cheap look at whether anything committed to a WAL database: the wal-index header (the first 48
 * bytes of `-shm`, which SQLite rewrites on every commit and WAL restart: change counter, frame count,
 * salts, checksums) and the WAL's size and modification time. Two equal readings mean no transaction
 * committed in between, so the replicate loop can skip an idle tick without opening the WAL.
 */
import { bytesEqual } from "../util/bytes.ts";
import { DatabaseFile } from "./database_file.ts";

const WAL_INDEX_HEADER_BYTES = 48;

export class WalProbe {
  readonly #walPath: string;
  readonly #shmPath: string;
  /**
   * Kept open until close(): SQLite holds its read marks as POSIX locks on `-shm`, and closing any
   * descriptor of the file would drop them for the whole process (see DatabaseFile).
   */
  #shm: DatabaseFile | null = null;
  #shmInode: number | null = null;

  constructor(dbPath: string) {
    this.#walPath = dbPath + "-wal";
    this.#shmPath = dbPath + "-shm";
  }

  /**
   * The current reading, or null when one cannot be taken (no `-shm`, as with exclusive locking mode,
   * or a `-shm` recreated since it was opened): then the caller must assume a change.
   */
  read(): Uint8Array | null {
    try {
      const wal = Deno.statSync(this.#walPath);
      if (this.#shm === null) {
        this.#shm = DatabaseFile.open(this.#shmPath);
        this.#shmInode = this.#shm.inode();
      } else if (Deno.statSync(this.#shmPath).ino !== this.#shmInode) {
        return null;
      }
      const header = this.#shm.read(0, WAL_INDEX_HEADER_BYTES);
      if (header.length < WAL_INDEX_HEADER_BYTES) return null;
      const reading = new Uint8Array(WAL_INDEX_HEADER_BYTES + 16);
      reading.set(header);
      const view = new DataView(reading.buffer);
      view.setFloat64(WAL_INDEX_HEADER_BYTES, wal.size);
      view.setFloat64(WAL_INDEX_HEADER_BYTES + 8, wal.mtime?.getTime() ?? 0);
      return reading;
    } catch {
      return null;
    }
  }

  /** Only once every SQLite connection of this process to the database is closed. */
  close(): void {
    this.#shm?.close();
    this.#shm = null;
  }
}

/** Whether two readings show the same database state; a missing reading never matches. */
export function sameReading(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a !== null && b !== null && bytesEqual(a, b);
}
