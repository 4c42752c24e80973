/**
 * Every subcommand by name and one-line summary. A command's module loads only when it runs (or its help
 * is asked for), so a run pays in start-up time and memory for its own command's imports only.
 */
import type { Command } from "./command.ts";

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: "replicate",
    summary: "stream SQLite databases to their replicas (config file, or one database)",
    load: async () => (await import("./replicate.ts")).replicateCommand,
  },
  {
    name: "restore",
    summary: "rebuild a database from a replica",
    load: async () => (await import("./restore.ts")).restoreCommand,
  },
  {
    name: "snapshot",
    summary: "take one full snapshot of a live database (for cron), then exit",
    load: async () => (await import("./snapshot.ts")).snapshotCommand,
  },
  {
    name: "databases",
    summary: "list the databases of the config file and their replicas",
    load: async () => (await import("./databases.ts")).databasesCommand,
  },
  {
    name: "status",
    summary: "show the replication state of each configured database",
    load: async () => (await import("./status.ts")).statusCommand,
  },
  {
    name: "ltx",
    summary: "list the LTX files of a replica",
    load: async () => (await import("./ltx.ts")).ltxCommand,
  },
  {
    name: "version",
    summary: "print walship, Deno and SQLite versions",
    load: async () => (await import("./version.ts")).versionCommand,
  },
];
