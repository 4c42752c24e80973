/**
 * From a configured database entry to what the engine runs for one database file: its path, local state
 * directory and replicas. A directory-mode entry gives each file its own replica location (the file's
 * path relative to `dir` appended to the replica path, as Litestream does) and its own state directory.
 */
import { basename, dirname, join, posix, relative } from "node:path";
import type { DatabaseConfig, ReplicaConfig } from "./config.ts";
import type { ReplicaSpec } from "./replica_url.ts";

export interface ResolvedDatabase {
  path: string;
  /** Local state directory; undefined: `.<file>-walship` beside the database. */
  metaPath?: string;
  replicas: ReplicaConfig[];
  config: DatabaseConfig;
}

/** The replica location for one database of a directory: `relPath` (with "/") below the replica's path. */
export function specForFileInDirectory(spec: ReplicaSpec, relPath: string): ReplicaSpec {
  switch (spec.type) {
    case "file":
      return { ...spec, path: join(spec.path, relPath) };
    case "s3":
    case "abs":
      return { ...spec, path: spec.path === "" ? relPath : posix.join(spec.path, relPath) };
  }
}

/** One database file under a configured entry (a `path:` entry, or a file found in a `dir:` entry). */
export function resolveDatabase(config: DatabaseConfig, file: string): ResolvedDatabase {
  if (config.dir === undefined) {
    return { path: file, metaPath: config.metaPath, replicas: config.replicas, config };
  }
  const rel = relative(config.dir, file).split("\\").join("/");
  const metaPath = config.metaPath === undefined
    ? undefined
    : join(config.metaPath, dirname(rel), `.${basename(rel)}-walship`);
  const replicas = config.replicas.map((r) => ({ ...r, spec: specForFileInDirectory(r.spec, rel) }));
  return { path: file, metaPath, replicas, config };
}
