/** Replica URLs → typed replica specs. The one place that parses URLs; adapters receive specs. */
import { resolve } from "node:path";
import { UsageError } from "../util/errors.ts";
import { parseS3Url, type S3Spec } from "./s3_url.ts";
import { type AbsSpec, parseAbsUrl } from "./abs_url.ts";
import type { AgeKeys } from "./age_keys.ts";

/** Where a replica is; `age` encrypts it (lib/storage/encrypted.ts), whatever the type. */
export type ReplicaSpec = ({ type: "file"; path: string } | S3Spec | AbsSpec) & { age?: AgeKeys };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/** Whether an argument is a URL (has a scheme) rather than a database path. */
export function isReplicaUrl(text: string): boolean {
  return SCHEME.test(text);
}

export function parseReplicaUrl(text: string): ReplicaSpec {
  const m = SCHEME.exec(text);
  if (!m) {
    throw new UsageError(`Replica URL "${text}" has no scheme`, {
      hint: "write it as file:///path/to/replica",
    });
  }
  const scheme = m[1]!.toLowerCase();
  const rest = text.slice(m[0].length);
  switch (scheme) {
    case "file": {
      const path = decodeURIComponent(rest.replace(/[?#].*$/, ""));
      if (path === "" || path === "/") {
        throw new UsageError(`Replica URL "${text}" needs a directory path`, {
          hint: "e.g. file:///var/backups/app",
        });
      }
      return { type: "file", path: resolve(path) };
    }
    case "s3":
      return parseS3Url(text);
    case "abs":
      return parseAbsUrl(text);
    default:
      throw new UsageError(`Unknown replica URL scheme "${scheme}://" in "${text}"`, {
        hint: "supported: file://, s3://, abs://",
      });
  }
}
