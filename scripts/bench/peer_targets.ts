/**
 * The storage the peer benchmarks replicate to: a file:// directory, s3rver and Azurite on loopback. Each
 * run gets its own bucket or container behind its own request-counting proxy (no faults), so PUT and LIST
 * counts belong to one replicator; watching and restoring go to the server directly.
 */
import { join } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { type Azurite, startAzurite } from "../../tests/helpers/azurite.ts";
import { type FaultProxy, type RequestCounts, startFaultProxy } from "../../tests/helpers/fault_proxy.ts";
import { type S3Server, startS3Server } from "../../tests/helpers/s3_server.ts";
import type { ReplicaSpec } from "./peer_tools.ts";
import { azuriteReader, fileReader, type ReplicaReader, s3rverReader } from "./replica_readers.ts";

export type ReplicaKind = "file" | "s3" | "abs";

/** One run's replica: the spec the replicator writes through (the proxy), and a direct one for restores. */
export interface ReplicaTarget {
  kind: ReplicaKind;
  viaProxy: ReplicaSpec;
  direct: ReplicaSpec;
  reader: ReplicaReader;
  /** Requests the replicator sent so far; undefined for file://. */
  counts(): RequestCounts | undefined;
  /** Closes the proxy and deletes the bucket, container or directory. */
  dispose(): Promise<void>;
}

export class PeerServers {
  #s3?: S3Server;
  #azurite?: Azurite;
  #serial = 0;

  /** Starts the servers the kinds need. */
  static async start(kinds: ReplicaKind[]): Promise<PeerServers> {
    const servers = new PeerServers();
    try {
      const [s3, azurite] = await Promise.all([
        kinds.includes("s3") ? startS3Server() : undefined,
        // Runs delete their containers, but Azurite keeps freed memory a while: leave room for a few.
        kinds.includes("abs") ? startAzurite({ extentMemoryLimitMb: 4096 }) : undefined,
      ]);
      servers.#s3 = s3;
      servers.#azurite = azurite;
    } catch (err) {
      await servers.stop();
      throw err;
    }
    return servers;
  }

  async target(kind: ReplicaKind, runDir: string): Promise<ReplicaTarget> {
    const name = `run${++this.#serial}`;
    if (kind === "file") {
      const dir = join(runDir, "replica");
      const spec: ReplicaSpec = { kind, dir };
      return {
        kind,
        viaProxy: spec,
        direct: spec,
        reader: fileReader(dir),
        counts: () => undefined,
        dispose: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
      };
    }
    if (kind === "s3") {
      const s3 = this.#s3!;
      await s3.createBucket(name);
      const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: s3.port });
      const spec = (endpoint: string): ReplicaSpec => ({
        kind,
        endpoint,
        bucket: name,
        path: "db",
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      });
      return {
        kind,
        viaProxy: spec(proxy.url),
        direct: spec(s3.endpoint),
        reader: s3rverReader(s3.dataDir, name, "db"),
        counts: () => proxy.counts(),
        dispose: async () => {
          await closeProxy(proxy);
          await Deno.remove(join(s3.dataDir, name), { recursive: true }).catch(() => {});
        },
      };
    }
    const azurite = this.#azurite!;
    await azurite.createContainer(name);
    const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: azurite.port });
    const spec = (endpoint: string): ReplicaSpec => ({
      kind,
      endpoint,
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      container: name,
      path: "db",
    });
    return {
      kind,
      viaProxy: spec(`${proxy.url}/${azurite.accountName}`),
      direct: spec(azurite.endpoint),
      reader: azuriteReader(azurite, name, "db"),
      counts: () => proxy.counts(),
      dispose: async () => {
        await closeProxy(proxy);
        const credential = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
        await new BlobServiceClient(azurite.endpoint, credential, { retryOptions: { maxTries: 1 } })
          .getContainerClient(name).delete().catch(() => {});
      },
    };
  }

  async stop(): Promise<void> {
    await Promise.all([this.#s3?.stop(), this.#azurite?.stop()]);
  }

  /** For a signal handler: kills the servers at once. */
  kill(): void {
    this.#s3?.kill();
    void this.#azurite?.stop();
  }
}

/** A proxy may hold a replicator's keep-alive connection open; never let closing it hang a run. */
async function closeProxy(proxy: FaultProxy): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([proxy.close(), new Promise((r) => timer = setTimeout(r, 5000))]);
  clearTimeout(timer);
}
