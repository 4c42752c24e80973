/** `walship databases [-config F] [-json]`: the configured databases and their replicas, secrets redacted. */
import type { DatabaseConfig } from "../config/config.ts";
import { openReplicaStore } from "../storage/open.ts";
import { formatDuration } from "../util/duration.ts";
import { type Command, print } from "./command.ts";
import { CONFIG_FLAGS, configFromFlags } from "./config_source.ts";
import { formatFlags, parseFlags } from "./flags.ts";
import { UsageError } from "../util/errors.ts";

const FLAGS = {
  json: { type: "boolean", description: "print JSON" },
  ...CONFIG_FLAGS,
} as const;

export const databasesCommand: Command = {
  name: "databases",
  usage: `Usage: walship databases [flags]

Lists each database entry of the config file (a path, or a directory with its pattern) with its
replicas: name, type, sync interval and location. Credentials are never printed.

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("databases", FLAGS, args);
    if (help) return print(this.usage), 0;
    if (positionals.length > 0) {
      throw new UsageError("databases takes no arguments", { hint: "walship databases -config FILE" });
    }
    const config = await configFromFlags(flags);
    const rows = config.dbs.map(databaseRow);
    if (flags.json) {
      print(JSON.stringify(rows));
      return 0;
    }
    print("database\treplica\ttype\tsync_interval\tlocation");
    config.dbs.forEach((db, i) => {
      const name = db.path ??
        `${db.dir}/${db.recursive ? "**/" : ""}${db.pattern}${db.watch ? " (watch)" : ""}`;
      for (const r of rows[i]!.replicas) print(`${name}\t${r.name}\t${r.type}\t${r.sync_interval}\t${r.url}`);
    });
    return 0;
  },
};

function databaseRow(db: DatabaseConfig) {
  return {
    ...(db.path !== undefined ? { path: db.path } : {
      dir: db.dir,
      pattern: db.pattern,
      recursive: db.recursive,
      watch: db.watch,
    }),
    ...(db.metaPath !== undefined ? { meta_path: db.metaPath } : {}),
    replicas: db.replicas.map((r) => ({
      name: r.name,
      type: r.spec.type,
      // describe() is each adapter's redacted location: keys and SAS tokens never appear in it.
      url: openReplicaStore(r.spec).describe(),
      sync_interval: formatDuration(r.syncIntervalMs),
    })),
  };
}
