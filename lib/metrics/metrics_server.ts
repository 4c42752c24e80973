/** Serves `/metrics` over HTTP on the configured `addr` (":9090" listens on every interface). */
import { UsageError, WalshipError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";

export interface MetricsServer {
  /** Where it listens, e.g. `http://127.0.0.1:9090/metrics`. */
  url: string;
  close(): Promise<void>;
}

/** Splits `HOST:PORT`, `:PORT` or `[V6]:PORT`; an empty host means every IPv4 interface. */
export function parseListenAddress(addr: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new UsageError(`Metrics address "${addr}" must be HOST:PORT or :PORT`, {
      hint: 'e.g. addr: ":9090"',
    });
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** Starts listening at once; `render` is called for every scrape. */
export function serveMetrics(addr: string, render: () => Promise<string>, logger: Logger): MetricsServer {
  const { hostname, port } = parseListenAddress(addr);
  const abort = new AbortController();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({ hostname, port, signal: abort.signal, onListen: () => {} }, async (request) => {
      const path = new URL(request.url).pathname;
      if (path !== "/metrics") return new Response("not found: try /metrics\n", { status: 404 });
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("method not allowed\n", { status: 405 });
      }
      try {
        return new Response(await render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
      } catch (err) {
        logger.error("metrics scrape failed", { error: (err as Error).message });
        return new Response("metrics unavailable\n", { status: 500 });
      }
    });
  } catch (err) {
    throw new WalshipError(`Cannot serve metrics on "${addr}": ${(err as Error).message}`, {
      hint: "choose another port in addr:",
      cause: err,
    });
  }
  const bound = server.addr as Deno.NetAddr;
  const shown = bound.hostname.includes(":") ? `[${bound.hostname}]` : bound.hostname;
  const url = `http://${shown === "0.0.0.0" ? "localhost" : shown}:${bound.port}/metrics`;
  logger.info("serving metrics", { url });
  return {
    url,
    async close() {
      abort.abort();
      await server.finished;
    },
  };
}
