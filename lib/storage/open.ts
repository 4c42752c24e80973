/** The composition root for replica stores: picks the adapter for a spec. */
import type { ReplicaSpec } from "../config/replica_url.ts";
import { FileStore } from "./file.ts";
import type { ReplicaStore } from "./store.ts";

export function openReplicaStore(spec: ReplicaSpec): ReplicaStore {
  switch (spec.type) {
    case "file":
      return new FileStore(spec.path);
  }
}
