/**
 * An HTTP/1.1 proxy for integration tests that injects the faults object storage shows in the wild: 500s,
 * 503 SlowDown/ServerBusy, connections dropped mid-body, and latency. It works on raw TCP and forwards heads
 * and bodies byte for byte (signed headers still verify), following Content-Length and chunked framing so
 * keep-alive connections stay in step. Clients connect to it as their endpoint; one upstream connection
 * serves each client connection.
 */

export interface Faults {
  /** Share of requests answered 500 InternalError instead of being forwarded. */
  errorRate?: number;
  /** Share of requests answered 503 with an S3 `<Code>SlowDown</Code>` body and `x-ms-error-code: ServerBusy`. */
  slowDownRate?: number;
  /** Share of requests whose client connection is closed partway through the response body. */
  resetRate?: number;
  /** Random delay before each request is handled, min..max ms. */
  delayMs?: [number, number];
  /** Methods answered 403 AccessDenied (as a key without that permission is), e.g. ["HEAD"]. */
  deniedMethods?: string[];
  /** Seeds the fault choices so a run can be repeated. @default random */
  seed?: number;
}

export interface FaultStats {
  requests: number;
  errors: number;
  slowDowns: number;
  resets: number;
  delayed: number;
}

/** Requests seen, by HTTP method and by whether they read a listing (for request-cost benchmarks). */
export interface RequestCounts {
  byMethod: Record<string, number>;
  /** GETs of an S3 (`list-type`, `prefix`, `delimiter`) or Azure (`comp=list`) listing. */
  lists: number;
}

export interface FaultProxy {
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Replaces the faults (rates apply in turn: error, then slow down, then reset, summing to at most 1). */
  setFaults(faults: Faults): void;
  /** Forwards everything untouched from now on. */
  clear(): void;
  stats(): FaultStats;
  counts(): RequestCounts;
  /** Stops listening and closes every connection; resolves when all of them are finished. */
  close(): Promise<void>;
}

/** A request's head as the proxy saw it (header names in lower case). */
export interface SeenRequest {
  method: string;
  /** Path and query. */
  target: string;
  headers: ReadonlyMap<string, string>;
}

type Fault = "error" | "slowDown" | "reset" | "denied" | undefined;

/** Starts a proxy to `target` on 127.0.0.1 with a random port; `onRequest` sees each request's head. */
export function startFaultProxy(
  target: { hostname: string; port: number },
  faults: Faults = {},
  onRequest?: (request: SeenRequest) => void,
): Promise<FaultProxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stopping = new AbortController();
  const stats: FaultStats = { requests: 0, errors: 0, slowDowns: 0, resets: 0, delayed: 0 };
  const counts: RequestCounts = { byMethod: {}, lists: 0 };
  const conns = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();
  let current: Faults = {};
  let random = mulberry32(0);
  const setFaults = (next: Faults) => {
    current = { ...next };
    random = mulberry32(next.seed ?? Math.floor(Math.random() * 2 ** 32));
  };
  setFaults(faults);

  const track = (conn: Deno.TcpConn) => {
    // Heads and bodies go out in separate writes; Nagle plus delayed ACKs would add 40 ms to each.
    conn.setNoDelay(true);
    conns.add(conn);
    return conn;
  };
  const release = (conn: Deno.Conn | undefined) => {
    if (conn && conns.delete(conn)) closeQuietly(conn);
  };
  const chooseFault = (): Fault => {
    const { errorRate = 0, slowDownRate = 0, resetRate = 0 } = current;
    const r = random();
    if (r < errorRate) return "error";
    if (r < errorRate + slowDownRate) return "slowDown";
    if (r < errorRate + slowDownRate + resetRate) return "reset";
    return undefined;
  };

  async function serveClient(clientConn: Deno.Conn): Promise<void> {
    const client = new ConnReader(clientConn);
    let upstreamConn: Deno.Conn | undefined;
    let upstream: ConnReader | undefined;
    let sending: Promise<unknown> | undefined;
    try {
      for (;;) {
        const next = client.readUntil(CRLF_CRLF, MAX_HEAD_BYTES);
        // A server closes an idle connection (Node's default: after 5 s); so does the proxy, as the server's
        // own close would show. Otherwise the client's next request would fail here and be sent again.
        if (upstream && await Promise.race([next.then(() => false), upstream.watchClose()])) return;
        const raw = await next;
        if (raw === null) return;
        const request = parseHead(raw);
        stats.requests++;
        countRequest(counts, request);
        onRequest?.({
          method: request.first[0] ?? "",
          target: request.first[1] ?? "",
          headers: request.headers,
        });
        const fault = current.deniedMethods?.includes(request.first[0] ?? "") ? "denied" : chooseFault();
        if (current.delayMs) {
          const [min, max] = current.delayMs;
          stats.delayed++;
          await sleep(min + random() * (max - min), stopping.signal);
        }
        if (fault === "error" || fault === "slowDown" || fault === "denied") {
          if (fault !== "denied") stats[fault === "error" ? "errors" : "slowDowns"]++;
          // Take the whole request off the wire so the connection can carry the next one.
          if (expectsContinue(request)) await writeAll(clientConn, CONTINUE);
          await relayBody(client, null, requestFraming(request));
          await writeAll(clientConn, faultReply(fault, request, stats.requests));
          if (!isKeepAlive(request)) return;
          continue;
        }
        if (!upstreamConn) {
          upstreamConn = track(await Deno.connect({ hostname: target.hostname, port: target.port }));
          upstream = new ConnReader(upstreamConn);
        }
        await writeAll(upstreamConn, raw);
        // The body goes up while the response is read: a server may answer `100 Continue` first.
        sending = relayBody(client, upstreamConn, requestFraming(request));
        sending.catch(() => {});
        const outcome = await relayResponse(upstream!, clientConn, request, fault === "reset");
        if (outcome === "cut") stats.resets++;
        if (outcome !== "kept") return;
        await sending;
        sending = undefined;
      }
    } catch {
      // A broken or closed connection ends the session; the client sees its connection close.
    } finally {
      release(clientConn);
      release(upstreamConn);
      await sending?.catch(() => {});
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const session = serveClient(track(conn));
        sessions.add(session);
        session.finally(() => sessions.delete(session));
      }
    } catch {
      // The listener was closed.
    }
  })();

  const { port } = listener.addr as Deno.NetAddr;
  return Promise.resolve({
    port,
    url: `http://127.0.0.1:${port}`,
    setFaults,
    clear: () => setFaults({}),
    stats: () => ({ ...stats }),
    counts: () => ({ byMethod: { ...counts.byMethod }, lists: counts.lists }),
    async close() {
      stopping.abort();
      closeQuietly(listener);
      await accepting;
      for (const conn of [...conns]) release(conn);
      await Promise.all([...sessions]);
    },
  });
}

const MAX_HEAD_BYTES = 64 * 1024;
const READ_BYTES = 64 * 1024;
const CRLF = new Uint8Array([13, 10]);
const CRLF_CRLF = new Uint8Array([13, 10, 13, 10]);
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

/** Reads a connection with push-back, so a head's leftover bytes stay for the body. */
class ConnReader {
  #conn: Deno.Conn;
  #pending: Uint8Array = new Uint8Array(0);
  #ahead: Promise<boolean> | null = null;
  #ended = false;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /**
   * Reads ahead while the peer has nothing to say (a server between responses): true once it closes the
   * connection. Whatever it sends instead stays buffered for the next read.
   */
  watchClose(): Promise<boolean> {
    this.#ahead ??= (async () => {
      if (this.#pending.length > 0 || this.#ended) return this.#ended;
      const buf = new Uint8Array(READ_BYTES);
      const n = await this.#conn.read(buf).catch(() => null);
      if (n === null) this.#ended = true;
      else this.#pending = buf.subarray(0, n);
      return this.#ended;
    })();
    return this.#ahead;
  }

  /** At most `max` bytes, buffered ones first; null at end of stream. */
  async read(max = READ_BYTES): Promise<Uint8Array | null> {
    if (this.#ahead) {
      await this.#ahead;
      this.#ahead = null;
    }
    if (this.#ended) return null;
    if (this.#pending.length === 0) {
      const buf = new Uint8Array(READ_BYTES);
      const n = await this.#conn.read(buf);
      if (n === null) return null;
      this.#pending = buf.subarray(0, n);
    }
    const out = this.#pending.subarray(0, max);
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  /** Bytes up to and including `delimiter`; null when the stream ends before any byte. */
  async readUntil(delimiter: Uint8Array, limit: number): Promise<Uint8Array | null> {
    let seen: Uint8Array = new Uint8Array(0);
    for (;;) {
      if (this.#pending.length === 0) {
        const more = await this.read();
        if (more === null) {
          if (seen.length === 0) return null;
          throw new Error("Connection closed inside an HTTP head or chunk line");
        }
        this.#pending = more;
      }
      const joined = concat(seen, this.#pending);
      const at = indexOf(joined, delimiter, Math.max(0, seen.length - delimiter.length + 1));
      if (at >= 0) {
        const end = at + delimiter.length;
        this.#pending = joined.subarray(end);
        return joined.subarray(0, end);
      }
      if (joined.length > limit) throw new Error("HTTP head or chunk line too long");
      seen = joined;
      this.#pending = new Uint8Array(0);
    }
  }
}

interface Head {
  raw: Uint8Array;
  /** Request method or response status code, and the HTTP version. */
  first: string[];
  headers: Map<string, string>;
}

function parseHead(raw: Uint8Array): Head {
  const lines = new TextDecoder("latin1").decode(raw).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { raw, first: lines[0]!.split(" "), headers };
}

function countRequest(counts: RequestCounts, request: Head): void {
  const [method = "", target = ""] = request.first;
  counts.byMethod[method] = (counts.byMethod[method] ?? 0) + 1;
  const query = target.includes("?") ? target.slice(target.indexOf("?") + 1) : "";
  if (method === "GET" && /(^|&)(list-type|prefix|delimiter)=|(^|&)comp=list(&|$)/.test(query)) {
    counts.lists++;
  }
}

function isKeepAlive(head: Head): boolean {
  const connection = (head.headers.get("connection") ?? "").toLowerCase();
  const version = head.first.find((part) => part.startsWith("HTTP/")) ?? "HTTP/1.1";
  return version === "HTTP/1.0" ? connection.includes("keep-alive") : !connection.includes("close");
}

function expectsContinue(request: Head): boolean {
  return (request.headers.get("expect") ?? "").toLowerCase() === "100-continue";
}

type Framing = { kind: "none" } | { kind: "length"; bytes: number } | { kind: "chunked" } | {
  kind: "close";
};

function bodyFraming(head: Head): Framing | undefined {
  const coding = head.headers.get("transfer-encoding");
  if (coding) return /(^|,)\s*chunked\s*$/i.test(coding) ? { kind: "chunked" } : { kind: "close" };
  const length = head.headers.get("content-length");
  if (length === undefined) return undefined;
  const bytes = Number(length.split(",")[0]);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`Bad Content-Length "${length}"`);
  return { kind: "length", bytes };
}

function requestFraming(request: Head): Framing {
  return bodyFraming(request) ?? { kind: "none" };
}

/** RFC 9112 section 6.3: HEAD answers, 1xx, 204 and 304 have no body; without a length it runs to close. */
function responseFraming(response: Head, request: Head): Framing {
  const status = Number(response.first[1]);
  if (request.first[0] === "HEAD" || status < 200 || status === 204 || status === 304) {
    return { kind: "none" };
  }
  return bodyFraming(response) ?? { kind: "close" };
}

/**
 * Copies one response to the client, passing interim 1xx answers on. With `reset`, closes the connection
 * halfway through the body ("cut"), or before the head when there is no body to break.
 */
async function relayResponse(
  upstream: ConnReader,
  client: Deno.Conn,
  request: Head,
  reset: boolean,
): Promise<"kept" | "closed" | "cut"> {
  for (;;) {
    const raw = await upstream.readUntil(CRLF_CRLF, MAX_HEAD_BYTES);
    if (raw === null) throw new Error("Upstream closed the connection before answering");
    const response = parseHead(raw);
    const status = Number(response.first[1]);
    if (status >= 100 && status < 200 && status !== 101) {
      await writeAll(client, raw);
      continue;
    }
    const framing = status === 101 ? { kind: "close" as const } : responseFraming(response, request);
    const empty = framing.kind === "none" || (framing.kind === "length" && framing.bytes === 0);
    if (reset && empty) return "cut";
    await writeAll(client, raw);
    if (!await relayBody(upstream, client, framing, reset)) return "cut";
    return framing.kind !== "close" && isKeepAlive(response) && isKeepAlive(request) ? "kept" : "closed";
  }
}

/**
 * Copies one body byte for byte (to nowhere when `to` is null). With `cut`, stops after half the body
 * (half the first chunk when chunked) and returns false.
 */
async function relayBody(
  from: ConnReader,
  to: Deno.Conn | null,
  framing: Framing,
  cut = false,
): Promise<boolean> {
  const send = (bytes: Uint8Array) => to ? writeAll(to, bytes) : Promise.resolve();
  switch (framing.kind) {
    case "none":
      return true;
    case "length":
      return await relayBytes(from, send, framing.bytes, cut ? Math.floor(framing.bytes / 2) : undefined);
    case "close":
      for (let chunk = await from.read(); chunk !== null; chunk = await from.read()) {
        if (cut) {
          await send(chunk.subarray(0, chunk.length >> 1));
          return false;
        }
        await send(chunk);
      }
      return true;
    case "chunked":
      for (let first = true;; first = false) {
        const line = await from.readUntil(CRLF, 4096);
        if (line === null) throw new Error("Connection closed inside a chunked body");
        await send(line);
        const size = parseInt(new TextDecoder().decode(line).split(";")[0]!.trim(), 16);
        if (!Number.isSafeInteger(size) || size < 0) throw new Error("Bad chunk size line");
        if (size === 0) return await relayTrailers(from, send);
        const stopAt = cut && first ? Math.floor(size / 2) : undefined;
        if (!await relayBytes(from, send, size, stopAt)) return false;
        const end = await from.readUntil(CRLF, 4096);
        if (end === null) throw new Error("Connection closed inside a chunked body");
        await send(end);
      }
  }
}

async function relayTrailers(from: ConnReader, send: (b: Uint8Array) => Promise<void>): Promise<true> {
  for (;;) {
    const line = await from.readUntil(CRLF, MAX_HEAD_BYTES);
    if (line === null) throw new Error("Connection closed inside chunked trailers");
    await send(line);
    if (line.length === 2) return true;
  }
}

/** Copies exactly `bytes` bytes; with `stopAt`, only that many, returning false. */
async function relayBytes(
  from: ConnReader,
  send: (b: Uint8Array) => Promise<void>,
  bytes: number,
  stopAt?: number,
): Promise<boolean> {
  const limit = stopAt ?? bytes;
  for (let done = 0; done < limit;) {
    const chunk = await from.read(Math.min(READ_BYTES, limit - done));
    if (chunk === null) throw new Error("Connection closed inside a body");
    await send(chunk);
    done += chunk.length;
  }
  return stopAt === undefined;
}

const FAULT_REPLIES = {
  error: { status: "500 Internal Server Error", code: "InternalError", azureCode: "InternalError" },
  slowDown: { status: "503 Slow Down", code: "SlowDown", azureCode: "ServerBusy" },
  denied: { status: "403 Forbidden", code: "AccessDenied", azureCode: "AuthorizationPermissionMismatch" },
};

/** A complete error answer as S3 writes it, with the header Azure's SDK reads the code from. */
function faultReply(fault: keyof typeof FAULT_REPLIES, request: Head, requestNumber: number): Uint8Array {
  const { status, code, azureCode } = FAULT_REPLIES[fault];
  const requestId = `fault-proxy-${requestNumber}`;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>Injected by the test fault proxy</Message><RequestId>${requestId}</RequestId></Error>`;
  const head = [
    `HTTP/1.1 ${status}`,
    "Content-Type: application/xml",
    `Content-Length: ${new TextEncoder().encode(body).length}`,
    `x-amz-request-id: ${requestId}`,
    `x-ms-request-id: ${requestId}`,
    `x-ms-error-code: ${azureCode}`,
    `Connection: ${isKeepAlive(request) ? "keep-alive" : "close"}`,
  ].join("\r\n");
  return new TextEncoder().encode(`${head}\r\n\r\n${request.first[0] === "HEAD" ? "" : body}`);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A small seeded PRNG (mulberry32), uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
