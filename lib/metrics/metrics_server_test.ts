import assert from "node:assert/strict";
import { silentLogger } from "../util/log.ts";
import { UsageError } from "../util/errors.ts";
import { parseListenAddress, serveMetrics } from "./metrics_server.ts";

Deno.test("parseListenAddress() takes :PORT, HOST:PORT and [V6]:PORT", () => {
  assert.deepEqual(parseListenAddress(":9090"), { hostname: "0.0.0.0", port: 9090 });
  assert.deepEqual(parseListenAddress("127.0.0.1:80"), { hostname: "127.0.0.1", port: 80 });
  assert.deepEqual(parseListenAddress("[::1]:9090"), { hostname: "::1", port: 9090 });
  for (const bad of ["9090", "host", ":99999", "a:b:1"]) {
    assert.throws(() => parseListenAddress(bad), UsageError, bad);
  }
});

Deno.test("serveMetrics() answers /metrics with the exposition format and 404 elsewhere", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  let scrapes = 0;
  const server = serveMetrics(`127.0.0.1:${port}`, () => Promise.resolve(`x ${++scrapes}\n`), silentLogger);
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}/metrics`);
    const ok = await fetch(server.url);
    assert.equal(ok.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.equal(await ok.text(), "x 1\n");
    const missing = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    assert.throws(
      () => serveMetrics(`127.0.0.1:${port}`, () => Promise.resolve(""), silentLogger),
      /Cannot serve metrics/,
    );
  } finally {
    await server.close();
  }
});
