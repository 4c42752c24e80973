/** `walship ltx [-level N|all] URL`: list the LTX files of a replica. */
import { isReplicaUrl, parseReplicaUrl } from "../config/replica_url.ts";
import { listAllLevels } from "../engine/restore_plan.ts";
import { openReplicaStore } from "../storage/open.ts";
import type { LtxFileInfo } from "../storage/store.ts";
import { UsageError } from "../util/errors.ts";
import { type Command, print } from "./command.ts";
import { formatFlags, parseFlags } from "./flags.ts";
import { ltxFileRow } from "./common.ts";
import { CONFIG_FLAGS, configFromFlags, configuredDatabase, pickReplica } from "./config_source.ts";
import { AGE_FLAGS, withAgeFlags } from "./age_flags.ts";

const FLAGS = {
  level: { type: "string", valueName: "N|all", description: "level to list, 0-9 or all (0)" },
  json: { type: "boolean", description: "print JSON" },
  replica: { type: "string", valueName: "NAME", description: "with DB_PATH: list this replica (the first)" },
  ...AGE_FLAGS,
  ...CONFIG_FLAGS,
} as const;

export const ltxCommand: Command = {
  name: "ltx",
  usage: `Usage: walship ltx [flags] REPLICA_URL
       walship ltx [flags] DB_PATH        (replica from the config file)

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("ltx", FLAGS, args);
    if (help) return print(this.usage), 0;
    if (positionals.length !== 1) {
      throw new UsageError("ltx needs one REPLICA_URL or DB_PATH", {
        hint: "walship ltx -level all file:///path/to/replica",
      });
    }
    const levelText = flags.level ?? "0";
    if (levelText !== "all" && !/^[0-9]$/.test(levelText)) {
      throw new UsageError(`-level takes 0-9 or all, not "${levelText}"`);
    }
    const source = positionals[0]!;
    const store = openReplicaStore(
      isReplicaUrl(source) ? await withAgeFlags(parseReplicaUrl(source), flags, "url") : await withAgeFlags(
        pickReplica(configuredDatabase(await configFromFlags(flags), source), flags.replica).spec,
        flags,
        "config",
      ),
    );
    let files: LtxFileInfo[];
    if (levelText === "all") {
      const levels = await listAllLevels(store);
      files = [...levels.keys()].sort((a, b) => a - b).flatMap((l) => levels.get(l)!);
    } else {
      files = await store.list(Number(levelText));
    }
    const rows = files.map(ltxFileRow);
    if (flags.json) {
      print(JSON.stringify(rows.map((r) => ({ ...r, timestamp: r.created, created: undefined }))));
      return 0;
    }
    print("level\tmin_txid\tmax_txid\tsize\tcreated");
    for (const r of rows) print(`${r.level}\t${r.min_txid}\t${r.max_txid}\t${r.size}\t${r.created}`);
    return 0;
  },
};
