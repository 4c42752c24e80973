/** `-restore-if-db-not-exists`: rebuild a missing database from the first replica that has a backup. */
import { dirname } from "node:path";
import { formatTxid } from "../ltx/txid.ts";
import type { ReplicaStore } from "../storage/store.ts";
import type { Logger } from "../util/log.ts";
import { restoreWithReplanning } from "./restore.ts";
import { NoBackupError, planRestore } from "./restore_plan.ts";

/**
 * Restores `path` from the first of `replicas` that holds a backup; returns that replica's name, or
 * null when none has one (the database then starts empty, once the application creates it).
 */
export async function restoreMissingDatabase(
  path: string,
  replicas: readonly { name: string; store: Pick<ReplicaStore, "list" | "open" | "describe"> }[],
  logger: Logger,
): Promise<string | null> {
  for (const { name, store } of replicas) {
    let plan;
    try {
      plan = await planRestore(store, {});
    } catch (err) {
      if (err instanceof NoBackupError) continue;
      throw err;
    }
    await Deno.mkdir(dirname(path), { recursive: true });
    const started = performance.now();
    const result = await restoreWithReplanning(store, plan, {}, path);
    logger.info("restored missing database", {
      replica: name,
      txid: formatTxid(result.txid),
      files: result.plan.length,
      ms: Math.round(performance.now() - started),
    });
    return name;
  }
  logger.info("no backup to restore the missing database from; it starts empty");
  return null;
}
