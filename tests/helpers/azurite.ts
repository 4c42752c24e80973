/**
 * Azurite (npm azurite 3.37.0, blob service only) for tests: run under Deno on 127.0.0.1 with a random port,
 * in memory, telemetry off. Start-up takes about a second, so share one server per test file.
 */
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";

/** Azurite's well-known development account (public, in every Azure Storage emulator doc). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  endpoint: string;
  port: number;
  accountName: string;
  accountKey: string;
  createContainer(name: string): Promise<void>;
  /** A container SAS (read, add, create, write, delete, list; one hour), without the leading "?". */
  sasToken(container: string): string;
  /** Stops the server and waits for its process to exit. */
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /**
   * Where blobs live. In memory, the store is capped (`extentMemoryLimitMb`) and freed space comes back
   * only with Azurite's periodic clean-up: a long run that writes more (the 30-minute chaos run reached
   * the cap after 10 minutes) gets MemoryExtentStoreAtSizeLimit on every upload. On disk (a temp dir,
   * removed at stop) there is no such cap. @default "memory"
   */
  persistence?: "memory" | "disk";
  /** Cap on the in-memory blob store: Azurite does not return freed memory at once. @default 512 */
  extentMemoryLimitMb?: number;
  /** How long to wait for the first answer (the first run also fetches the package). @default 60_000 */
  startTimeoutMs?: number;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const { persistence = "memory", extentMemoryLimitMb = 512, startTimeoutMs = 60_000 } = options;
  const port = freePort();
  const workDir = await Deno.makeTempDir({ prefix: "walship-azurite-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      // Its own lock and config: the test server must not touch walship's deno.json or deno.lock.
      "--no-config",
      "--no-lock",
      "--allow-read",
      "--allow-write=" + workDir,
      "--allow-env",
      "--allow-sys",
      "--allow-net=127.0.0.1",
      "npm:azurite@3.37.0/azurite-blob",
      "--blobHost=127.0.0.1",
      `--blobPort=${port}`,
      ...(persistence === "memory"
        ? ["--inMemoryPersistence", `--extentMemoryLimit=${extentMemoryLimitMb}`]
        : [`--location=${workDir}`]),
      "--disableTelemetry",
      // @azure/storage-blob 12.34.0 sends an API version newer than Azurite 3.37.0 knows.
      "--skipApiVersionCheck",
      "--silent",
    ],
    cwd: workDir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Should a test file end without calling stop(), the server still dies with the test process.
  const killOnExit = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  globalThis.addEventListener("unload", killOnExit);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      globalThis.removeEventListener("unload", killOnExit);
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(killOnExit, 5000);
      await child.status;
      clearTimeout(timer);
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
    })();

  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  try {
    await waitUntilAnswering(endpoint, child, startTimeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  const service = new BlobServiceClient(endpoint, credential, { retryOptions: { maxTries: 1 } });
  return {
    endpoint,
    port,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    async createContainer(name) {
      await service.getContainerClient(name).create();
    },
    sasToken(container) {
      return generateBlobSASQueryParameters({
        containerName: container,
        permissions: ContainerSASPermissions.parse("racwdl"),
        startsOn: new Date(Date.now() - 60_000),
        expiresOn: new Date(Date.now() + 3_600_000),
      }, credential).toString();
    },
    stop,
  };
}

/** Polls until any HTTP answer comes (403 for an unsigned request is fine), or the process dies. */
async function waitUntilAnswering(endpoint: string, child: Deno.ChildProcess, timeoutMs: number) {
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`Azurite exited with code ${exited.code} before answering`);
    try {
      const res = await fetch(`${endpoint}?comp=list`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`Azurite did not answer on ${endpoint} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port that was free a moment ago (the usual race is accepted for tests). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
