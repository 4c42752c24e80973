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

/** Collects writes into large chunks before they reach the file: one syscall per ~1 MiB, not per page. */
export class BufferedFileWriter {
  #file: Deno.FsFile;
  #buf: Uint8Array;
  #used = 0;
  written = 0;
  constructor(file: Deno.FsFile, bufferSize = 1 << 20) {
    this.#file = file;
    this.#buf = new Uint8Array(bufferSize);
  }
  async write(chunk: Uint8Array): Promise<void> {
    this.written += chunk.length;
    if (this.#used + chunk.length > this.#buf.length) await this.flush();
    if (chunk.length >= this.#buf.length) {
      await writeAll(this.#file, chunk);
      return;
    }
    this.#buf.set(chunk, this.#used);
    this.#used += chunk.length;
  }
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    await writeAll(this.#file, this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }
}

export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await file.write(data.subarray(at));
}
