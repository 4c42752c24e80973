/**
 * A descriptor walship keeps on a database file (for page reads) or its `-shm` (for the WAL probe).
 * SQLite's locks are POSIX locks:
 * closing any descriptor of the file drops all of them for the whole process. Deno's *async* FsFile ops
 * (`stat()`, `seek()`) work on a duplicated descriptor and close it afterwards, which silently drops
 * SQLite's locks (measured: /proc/locks loses the SHARED lock). So this wrapper exposes only synchronous
 * operations, and is closed only after every SQLite connection of the process is closed.
 */
import { readAtSync, readIntoSync } from "../util/bytes.ts";

export class DatabaseFile {
  #file: Deno.FsFile;
  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  static open(path: string): DatabaseFile {
    return new DatabaseFile(Deno.openSync(path, { read: true }));
  }

  sizeBytes(): number {
    return this.#file.statSync().size;
  }

  /** The inode the descriptor refers to, to tell whether the path still names the same file. */
  inode(): number | null {
    return this.#file.statSync().ino;
  }

  isDirectory(): boolean {
    return this.#file.statSync().isDirectory;
  }

  /** Bytes at `offset`; fewer only at end of file. */
  read(offset: number, length: number): Uint8Array {
    return readAtSync(this.#file, offset, length);
  }

  /** Fills `buf` from `offset`; returns the byte count, short only at end of file. */
  readInto(offset: number, buf: Uint8Array): number {
    return readIntoSync(this.#file, offset, buf);
  }

  close(): void {
    this.#file.close();
  }
}
