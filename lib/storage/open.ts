/** The composition root for replica stores: picks the adapter for a spec. */
import type { ReplicaSpec } from "../config/replica_url.ts";
import { AbsStore } from "./abs.ts";
import { FileStore } from "./file.ts";
import { S3Store } from "./s3.ts";
import { type RetryOptions, withRetries } from "./retry.ts";
import type { ReplicaStore } from "./store.ts";
import { withEncryption } from "./encryption.ts";

/**
 * The adapter for `spec`, wrapped in the decorators every store gets. Encryption (or, without
 * `spec.age`, the check that refuses encrypted objects) is outermost: a wrong key is never retried, and
 * a retried upload re-encrypts its body.
 */
export function openReplicaStore(spec: ReplicaSpec, options: OpenStoreOptions = {}): ReplicaStore {
  return withEncryption(withRetries(openAdapter(spec, options), options), spec.age);
}

export interface OpenStoreOptions extends RetryOptions {
  /**
   * Listings carry each file's LTX timestamp, not its upload time, where that costs extra requests
   * (S3: one HEAD per file, as Litestream does for timestamp restores).
   */
  exactTimestamps?: boolean;
}

function openAdapter(spec: ReplicaSpec, options: OpenStoreOptions): ReplicaStore {
  switch (spec.type) {
    case "file":
      return new FileStore(spec.path);
    case "abs":
      return new AbsStore(spec);
    case "s3":
      return new S3Store(spec, { timestamps: options.exactTimestamps ? "metadata" : "listing" });
  }
}
