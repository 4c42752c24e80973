/** The composition root for replica stores: picks the adapter for a spec. */
import type { ReplicaSpec } from "../config/replica_url.ts";
import { AbsStore } from "./abs.ts";
import { FileStore } from "./file.ts";
import { S3Store } from "./s3.ts";
import { type RetryOptions, withRetries } from "./retry.ts";
import type { ReplicaStore } from "./store.ts";

/** The adapter for `spec`, wrapped in the decorators every store gets (retry outermost). */
export function openReplicaStore(spec: ReplicaSpec, options: RetryOptions = {}): ReplicaStore {
  return withRetries(openAdapter(spec), options);
}

function openAdapter(spec: ReplicaSpec): ReplicaStore {
  switch (spec.type) {
    case "file":
      return new FileStore(spec.path);
    case "abs":
      return new AbsStore(spec);
    case "s3":
      return new S3Store(spec);
  }
}
