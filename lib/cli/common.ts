/** Pieces several commands share: logging flags and shutdown signals. */
import { formatTxid } from "../ltx/txid.ts";
import type { LtxFileInfo } from "../storage/store.ts";
import { UsageError } from "../util/errors.ts";
import { Logger, parseLogLevel } from "../util/log.ts";

export const LOG_FLAGS = {
  "log-level": { type: "string", valueName: "LEVEL", description: "debug, info, warn or error (info)" },
} as const;

export function loggerFromFlags(flags: { "log-level"?: string }): Logger {
  const text = flags["log-level"] ?? Deno.env.get("LOG_LEVEL") ?? "info";
  const level = parseLogLevel(text);
  if (!level) throw new UsageError(`Unknown log level "${text}"`, { hint: "use debug, info, warn or error" });
  return new Logger({ level });
}

/**
 * Resolves `stopped` on the first SIGINT/SIGTERM; a second signal aborts `signal` (skip the final
 * sync retries) and a third exits at once.
 */
export function onShutdownSignal(logger: Logger): { signal: AbortSignal; stopped: Promise<void> } {
  const abort = new AbortController();
  let count = 0;
  let resolve!: () => void;
  const stopped = new Promise<void>((r) => (resolve = r));
  const handler = () => {
    count++;
    if (count === 1) {
      logger.info("signal received, syncing before exit (signal again to skip)");
      resolve();
    } else if (count === 2) {
      abort.abort(new Error("interrupted"));
    } else {
      Deno.exit(130);
    }
  };
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
  return { signal: abort.signal, stopped };
}

/** One LTX file as printed by `ltx` and `restore -dry-run`. */
export function ltxFileRow(f: LtxFileInfo) {
  return {
    level: f.level,
    min_txid: formatTxid(f.minTxid),
    max_txid: formatTxid(f.maxTxid),
    size: f.sizeBytes,
    created: new Date(f.createdAt).toISOString(),
  };
}
