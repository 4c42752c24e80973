/**
 * Watches a directory-mode `dir` and calls back, debounced, when a database may have appeared or gone.
 * Events for SQLite side files and walship's state directories are dropped: they fire on every write,
 * and a rescan of the directory is what the callback does with any event.
 */
import { type Logger, silentLogger } from "../util/log.ts";
import { errorMessage } from "../util/errors.ts";
import { isIgnoredPath } from "./directory_scan.ts";

export interface DirectoryWatchOptions {
  recursive?: boolean;
  /** Quiet time after the last event before `onChange` runs. @default 250 (Litestream's) */
  debounceMs?: number;
  logger?: Logger;
}

export interface DirectoryWatch {
  close(): Promise<void>;
}

/** Starts watching; `onChange` never runs twice at once, and not after close() resolves. */
export function watchDirectory(
  dir: string,
  onChange: () => Promise<void>,
  options: DirectoryWatchOptions = {},
): DirectoryWatch {
  const { recursive = false, debounceMs = 250, logger = silentLogger } = options;
  const watcher = Deno.watchFs(dir, { recursive });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  let closed = false;
  const fire = () => {
    timer = undefined;
    running = running.then(async () => {
      if (closed) return;
      try {
        await onChange();
      } catch (err) {
        logger.error("directory rescan failed", { dir, error: errorMessage(err) });
      }
    });
  };
  const reading = (async () => {
    try {
      for await (const event of watcher) {
        if (event.paths.every(isIgnoredPath)) continue;
        clearTimeout(timer);
        timer = setTimeout(fire, debounceMs);
      }
    } catch (err) {
      if (!closed) logger.error("directory watch stopped", { dir, error: errorMessage(err) });
    }
  })();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
      await reading;
      await running;
    },
  };
}
