import assert from "node:assert/strict";
import { type FaultProxy, startFaultProxy } from "./fault_proxy.ts";

const MIB = 1 << 20;

function pattern(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + (i >>> 11)) & 0xff;
  return out;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A stream of `bytes` in uneven pieces, so Deno.serve and fetch send it chunked. */
function piecewise(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      const size = 1000 + (offset % 70_000);
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

/**
 * The backend: /bytes?n= (Content-Length), /chunked?n= (chunked), /echo (digest of the request body),
 * /empty (204). Each answer names the port its connection came from, to show connection reuse.
 */
function startBackend() {
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req, info) => {
    hits++;
    const url = new URL(req.url);
    const n = Number(url.searchParams.get("n") ?? 0);
    const headers = { "x-remote-port": String(info.remoteAddr.port) };
    switch (url.pathname) {
      case "/bytes":
        return new Response(pattern(n), { headers });
      case "/chunked":
        return new Response(piecewise(pattern(n)), { headers });
      case "/echo": {
        const body = await req.bytes();
        return Response.json({ length: body.length, sha256: await sha256(body) }, { headers });
      }
      case "/empty":
        return new Response(null, { status: 204, headers });
    }
    return new Response("not found", { status: 404 });
  });
  return { server, port: server.addr.port, hits: () => hits };
}

/** Runs `body` with a backend, a proxy in front of it and a private fetch client; stops all three. */
async function withProxy(
  body: (
    proxy: FaultProxy,
    get: (path: string, init?: RequestInit) => Promise<Response>,
    hits: () => number,
  ) => Promise<void>,
) {
  const backend = startBackend();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: backend.port });
  const client = Deno.createHttpClient({});
  try {
    await body(proxy, (path, init) => fetch(proxy.url + path, { ...init, client }), backend.hits);
  } finally {
    client.close();
    await proxy.close();
    await backend.server.shutdown();
  }
}

Deno.test("fault proxy passes 5 MiB bodies through intact over kept-alive connections", async () => {
  await withProxy(async (proxy, get) => {
    const data = pattern(5 * MIB);
    const want = await sha256(data);

    const fixed = await get(`/bytes?n=${data.length}`);
    assert.equal(fixed.headers.get("content-length"), String(data.length));
    assert.equal(await sha256(await fixed.bytes()), want);

    const chunked = await get(`/chunked?n=${data.length}`);
    assert.equal(chunked.headers.get("transfer-encoding"), "chunked");
    assert.equal(await sha256(await chunked.bytes()), want);

    const upload = await get("/echo", { method: "POST", body: data });
    assert.deepEqual(await upload.json(), { length: data.length, sha256: want });

    const streamed = await get("/echo", { method: "POST", body: piecewise(data) });
    assert.deepEqual(await streamed.json(), { length: data.length, sha256: want });

    const head = await get(`/bytes?n=${data.length}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal((await head.bytes()).length, 0);
    const empty = await get("/empty");
    assert.equal(empty.status, 204);
    await empty.body?.cancel();

    // Sequential requests share one client connection, so the backend sees one upstream port.
    const ports = [fixed, chunked, upload, streamed, head, empty].map((r) => r.headers.get("x-remote-port"));
    assert.equal(new Set(ports).size, 1, String(ports));
    assert.deepEqual(proxy.stats(), { requests: 6, errors: 0, slowDowns: 0, resets: 0, delayed: 0 });
  });
});

Deno.test("fault proxy with errorRate 1 answers every request 500 and keeps the connection usable", async () => {
  await withProxy(async (proxy, get, hits) => {
    proxy.setFaults({ errorRate: 1 });
    const upload = await get("/echo", { method: "POST", body: pattern(5 * MIB) });
    assert.equal(upload.status, 500);
    assert.match(await upload.text(), /<Code>InternalError<\/Code>/);
    const streamed = await get("/echo", { method: "POST", body: piecewise(pattern(MIB)) });
    assert.equal(streamed.status, 500);
    await streamed.body?.cancel();
    const head = await get("/bytes?n=10", { method: "HEAD" });
    assert.equal(head.status, 500);
    assert.equal(head.headers.get("x-ms-error-code"), "InternalError");
    assert.equal(hits(), 0);

    proxy.clear();
    const data = pattern(3 * MIB);
    const ok = await get("/echo", { method: "POST", body: data });
    assert.deepEqual(await ok.json(), { length: data.length, sha256: await sha256(data) });
    assert.deepEqual(proxy.stats(), { requests: 4, errors: 3, slowDowns: 0, resets: 0, delayed: 0 });
  });
});

Deno.test("fault proxy with slowDownRate 1 answers 503 SlowDown with Azure's ServerBusy code", async () => {
  await withProxy(async (proxy, get, hits) => {
    proxy.setFaults({ slowDownRate: 1 });
    const res = await get("/bytes?n=10");
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-ms-error-code"), "ServerBusy");
    assert.match(await res.text(), /<Code>SlowDown<\/Code>/);
    assert.equal(hits(), 0);
    assert.equal(proxy.stats().slowDowns, 1);
  });
});

/** Reads a response body to its end or its error; returns the bytes received and the error. */
async function drain(res: Response): Promise<{ received: number; error?: unknown }> {
  const reader = res.body!.getReader();
  let received = 0;
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) received += r.value.length;
    return { received };
  } catch (error) {
    return { received, error };
  }
}

Deno.test("fault proxy with resetRate 1 breaks the connection partway through a body", async () => {
  await withProxy(async (proxy, get) => {
    proxy.setFaults({ resetRate: 1 });
    for (const path of [`/bytes?n=${5 * MIB}`, `/chunked?n=${5 * MIB}`]) {
      const res = await get(path);
      assert.equal(res.status, 200);
      const { received, error } = await drain(res);
      assert.ok(error instanceof Error, `${path}: body ended without an error after ${received} bytes`);
      assert.ok(received < 5 * MIB, `${path}: got ${received} bytes`);
    }
    // With no body to break, the connection closes before the answer.
    await assert.rejects(() => get("/empty"), TypeError);
    assert.equal(proxy.stats().resets, 3);

    proxy.clear();
    const whole = await get(`/bytes?n=${MIB}`);
    assert.equal((await whole.bytes()).length, MIB);
  });
});

Deno.test("fault proxy delays requests and repeats its choices for a seed", async () => {
  await withProxy(async (proxy, get) => {
    proxy.setFaults({ delayMs: [80, 120] });
    const started = performance.now();
    await (await get("/bytes?n=10")).bytes();
    assert.ok(performance.now() - started >= 79);
    assert.equal(proxy.stats().delayed, 1);

    const run = async () => {
      proxy.setFaults({ errorRate: 0.3, slowDownRate: 0.2, seed: 42 });
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) {
        const res = await get("/bytes?n=10");
        await res.bytes();
        statuses.push(res.status);
      }
      return statuses;
    };
    const first = await run();
    assert.deepEqual(await run(), first);
    assert.deepEqual([...new Set(first)].sort(), [200, 500, 503]);
  });
});

/** Reads from a raw connection until `done(text so far)`. */
async function readUntil(conn: Deno.Conn, done: (text: string) => boolean): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!done(text)) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`connection closed after: ${text}`);
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("fault proxy handles Expect: 100-continue, forwarded and faulted", async () => {
  await withProxy(async (proxy) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    try {
      const request = (path: string) =>
        new TextEncoder().encode(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`,
        );
      const ask = async () => {
        await conn.write(request("/echo"));
        assert.match(await readUntil(conn, (t) => t.includes("\r\n\r\n")), /^HTTP\/1\.1 100 Continue\r\n/);
        await conn.write(new TextEncoder().encode("hello"));
        return await readUntil(conn, (t) => /\}$|<\/Error>$/.test(t));
      };
      assert.match(await ask(), /^HTTP\/1\.1 200 [^]*"length":5,/);
      proxy.setFaults({ errorRate: 1 });
      assert.match(await ask(), /^HTTP\/1\.1 500 [^]*<Code>InternalError<\/Code>/);
      proxy.clear();
      assert.match(await ask(), /^HTTP\/1\.1 200 [^]*"sha256":"2cf24dba/);
    } finally {
      conn.close();
    }
  });
});

Deno.test("fault proxy close() ends delayed requests and idle connections at once", async () => {
  const backend = startBackend();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: backend.port });
  const client = Deno.createHttpClient({});
  try {
    await (await fetch(`${proxy.url}/bytes?n=10`, { client })).bytes(); // leaves an idle kept-alive connection
    proxy.setFaults({ delayMs: [60_000, 60_000] });
    const stuck = fetch(`${proxy.url}/bytes?n=10`, { client });
    while (proxy.stats().requests < 2) await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    await proxy.close();
    assert.ok(performance.now() - started < 1_000);
    await assert.rejects(() => stuck, TypeError);
  } finally {
    client.close();
    await proxy.close();
    await backend.server.shutdown();
  }
});

Deno.test("fault proxy closes a kept-alive client connection when the server closes its side", async () => {
  const { Agent, get } = await import("node:http");
  // A server that answers one request per connection, then closes it after 200 ms, as an idle timeout does.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
      setTimeout(() => conn.close(), 200);
    }
  })().catch(() => {});
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port });
  const agent = new Agent({ keepAlive: true });
  const fetchOnce = () =>
    new Promise<string>((resolve, reject) => {
      get({ host: "127.0.0.1", port: proxy.port, agent }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c)).on("end", () => resolve(text));
      }).on("error", reject);
    });
  try {
    assert.equal(await fetchOnce(), "ok");
    await new Promise((r) => setTimeout(r, 500)); // the server closed its idle connection; so must the proxy
    assert.equal(await fetchOnce(), "ok", "the request went out on a connection the proxy kept open");
    assert.equal(proxy.stats().requests, 2);
  } finally {
    agent.destroy();
    await proxy.close();
    listener.close();
    await serving;
  }
});
