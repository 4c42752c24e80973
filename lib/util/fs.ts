/** Durable local file operations: fsync of directories, atomic replacement. */

/** fsyncs a directory so a rename or unlink in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  using handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
    if (!(err instanceof Deno.errors.InvalidData) && !(err instanceof Deno.errors.PermissionDenied)) {
      throw err;
    }
  }
}

/** A unique temp name beside `path`, so concurrent writers never share one. */
export function tempPathFor(path: string): string {
  return `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/** Whether a path exists (any kind). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Removes a file, ignoring one that is already gone. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Collects small writes into ~64 KiB ones: one syscall per many pages, not per page. Chunks of 16 KiB
 * or more (the LTX encoder hands over 256 KiB batches) go straight to the file, without a copy, and the
 * buffer is allocated only if a small chunk comes.
 */
export class BufferedFileWriter {
  #file: Deno.FsFile;
  #size: number;
  #buf: Uint8Array | null = null;
  #used = 0;
  written = 0;
  constructor(file: Deno.FsFile, bufferSize = 64 << 10) {
    this.#file = file;
    this.#size = bufferSize;
  }
  async write(chunk: Uint8Array): Promise<void> {
    this.written += chunk.length;
    if (chunk.length >= this.#size / 4) {
      await this.flush();
      await writeAll(this.#file, chunk);
      return;
    }
    if (this.#used + chunk.length > this.#size) await this.flush();
    this.#buf ??= new Uint8Array(this.#size);
    this.#buf.set(chunk, this.#used);
    this.#used += chunk.length;
  }
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    await writeAll(this.#file, this.#buf!.subarray(0, this.#used));
    this.#used = 0;
  }
}

export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await file.write(data.subarray(at));
}
