/** Database and directory paths as Litestream reads them from a config: `sqlite://` stripped, `~` expanded. */
import { resolve } from "node:path";

/**
 * Strips a `sqlite://` or `sqlite3://` prefix, expands a leading `~` or `~/` with `home`, and makes the
 * path absolute against the working directory. Returns undefined when `~` is used and `home` is unknown.
 */
export function expandPath(text: string, home: string | undefined): string | undefined {
  let path = text.trim().replace(/^sqlite3?:\/\//, "");
  if (path === "~" || path.startsWith("~/")) {
    if (!home) return undefined;
    path = home + path.slice(1);
  }
  return resolve(path);
}
