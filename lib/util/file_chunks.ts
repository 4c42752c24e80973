/** A ReadableStream over an open file, closed at its end or on cancel. */
import { readBuffer } from "./read_buffers.ts";

/**
 * Streams `handle` in recycled buffers (lib/util/read_buffers.ts). By default 1 MiB ones, each read on
 * Deno's blocking pool with one chunk read ahead, so a reader decoding one chunk overlaps the read of
 * the next. With `onDemandBytes`, in synchronous reads of that size and nothing ahead: for a merge,
 * which holds all its inputs (up to 32) open at once. Only for files without SQLite locks: async ops
 * on the database file itself drop them (lib/engine/database_file.ts).
 */
export function fileChunks(handle: Deno.FsFile, onDemandBytes?: number): ReadableStream<Uint8Array> {
  let open = true;
  const close = () => {
    if (open) handle.close();
    open = false;
  };
  const read = async (): Promise<Uint8Array | null> => {
    const buf = readBuffer(onDemandBytes);
    const n = onDemandBytes ? handle.readSync(buf) : await handle.read(buf);
    if (n === null || n === 0) return null;
    return n === buf.length ? buf : buf.subarray(0, n);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await read();
        if (chunk) return controller.enqueue(chunk);
        close();
        controller.close();
      } catch (err) {
        close();
        controller.error(err);
      }
    },
    cancel: close,
  }, { highWaterMark: onDemandBytes ? 0 : 1 });
}
