/** Where LTX files live inside a replica, per backend family, as Litestream v0.5 names them. */
import { ltxFileName, parseLtxFileName } from "../ltx/txid.ts";
import type { LtxFileRef } from "./store.ts";

export interface Layout {
  /** Key prefix of a level, ending in "/". */
  levelPrefix(level: number): string;
  /** Full key of a file. */
  fileKey(file: LtxFileRef): string;
  /** The file a key names inside a level, or null for foreign keys. */
  parseFileName(level: number, name: string): LtxFileRef | null;
}

function joinRoot(root: string, rest: string): string {
  const trimmed = root.replace(/\/+$/, "");
  return trimmed === "" ? rest : `${trimmed}/${rest}`;
}

function makeLayout(root: string, levelDir: (level: number) => string): Layout {
  return {
    levelPrefix: (level) => joinRoot(root, `${levelDir(level)}/`),
    fileKey: (file) => joinRoot(root, `${levelDir(file.level)}/${ltxFileName(file.minTxid, file.maxTxid)}`),
    parseFileName(level, name) {
      const parsed = parseLtxFileName(name);
      return parsed ? { level, ...parsed } : null;
    },
  };
}

/** file, abs (and gs, sftp, webdav): `<root>/ltx/<level decimal>/<min>-<max>.ltx`. */
export function ltxDirLayout(root: string): Layout {
  return makeLayout(root, (level) => `ltx/${level}`);
}

/** s3 (and oss): `<root>/<level as 4 hex digits>/<min>-<max>.ltx`. */
export function hexLevelLayout(root: string): Layout {
  return makeLayout(root, (level) => level.toString(16).padStart(4, "0"));
}
