import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { Agent, createServer, request } from "node:http";
import { PassThrough, type Readable } from "node:stream";
import { BufferPool } from "../util/buffer_pool.ts";
import { digestRange, fileParts, openRange } from "./file_range.ts";
import { orHung } from "../../tests/helpers/or_hung.ts";

const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) % 251);

async function withFile(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, data);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

function collect(stream: Readable): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.on("end", () => resolve(chunks));
    stream.on("error", reject);
  });
}

Deno.test("openRange streams exactly the range, each chunk in a buffer of its own", async () => {
  await withFile(async (path) => {
    const chunks = await collect(openRange({ path, start: 1000, length: 200_001 }));
    assert.ok(chunks.length >= 4, `several chunks, got ${chunks.length}`);
    // Chunks kept by the consumer stay intact while later ones are read: no buffer is reused.
    assert.equal(new Set(chunks.map((c) => c.buffer)).size, chunks.length);
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) joined.set(c, (at += c.length) - c.length);
    assert.deepEqual(joined, data.subarray(1000, 201_001));
    // A fresh stream each time: the same range reads the same bytes again.
    const again = await collect(openRange({ path, start: 1000, length: 10 }));
    assert.deepEqual(again.map((c) => [...c]).flat(), [...data.subarray(1000, 1010)]);
  });
});

Deno.test("openRange fails naming the file when it ends before the range does", async () => {
  await withFile(async (path) => {
    await assert.rejects(
      () => collect(openRange({ path, start: 250_000, length: 60_000 })),
      (err: Error) => err.message.includes(path) && /ended 10000 bytes before/.test(err.message),
    );
    await assert.rejects(() => collect(openRange({ path: `${path}.missing`, start: 0, length: 1 })));
  });
});

Deno.test("digestRange hashes every byte of a range longer than one read", async () => {
  await withFile(async (path) => {
    const [first, second] = fileParts(path, data.length, 200_000);
    for (const range of [first!, second!]) {
      const { sha256 } = await digestRange(range, { sha256: true, crc32: false }, "upload x");
      const expected = data.subarray(range.start, range.start + range.length);
      assert.equal(sha256, createHash("sha256").update(expected).digest("hex"));
    }
    await assert.rejects(
      () => digestRange({ path, start: 290_000, length: 20_000 }, { sha256: true, crc32: false }, "upload x"),
      /Cannot upload x: the file ended 10000 bytes before the part's end/,
    );
  });
});

/** A pool that counts what comes back and scribbles over it, so a buffer given back too early shows. */
class ScribblingPool extends BufferPool {
  given = 0;
  override give(chunk: Uint8Array): void {
    this.given++;
    new Uint8Array(chunk.buffer).fill(0xee);
    super.give(chunk);
  }
}

Deno.test("openRange piped into HTTP requests reuses chunk buffers only once the socket has written them", async () => {
  const big = new Uint8Array(3 << 20);
  for (let i = 0; i < big.length; i += 65_536) crypto.getRandomValues(big.subarray(i, i + 65_536));
  const path = await Deno.makeTempFile();
  const received: string[] = [];
  const server = createServer((req, res) => {
    const hash = createHash("sha256");
    req.on("data", (chunk: Uint8Array) => hash.update(chunk));
    // A slow reader: the client's socket fills, so chunks wait in its write queue.
    req.pause();
    setTimeout(() => req.resume(), 50);
    req.on("end", () => {
      received.push(hash.digest("hex"));
      res.end("ok");
    });
  });
  try {
    await Deno.writeFile(path, big);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const pool = new ScribblingPool(64 * 1024, 4);
    const ranges = fileParts(path, big.length, 1 << 20);
    await Promise.all(ranges.map((range) =>
      new Promise<void>((resolve, reject) => {
        const req = request({
          host: "127.0.0.1",
          port,
          method: "PUT",
          headers: { "content-length": range.length },
        }, (res) => res.resume().on("end", resolve));
        req.on("error", reject);
        openRange(range, pool).pipe(req);
      })
    ));
    const expected = ranges.map((r) =>
      createHash("sha256").update(big.subarray(r.start, r.start + r.length)).digest("hex")
    );
    assert.deepEqual(received.toSorted(), expected.toSorted());
    assert.ok(pool.given >= 40, `buffers came back: ${pool.given}`);

    // Into anything else (here a PassThrough, which hands chunks on after its callback), none are lent.
    const other = new ScribblingPool(64 * 1024, 4);
    const chunks = await collect(openRange(ranges[0]!, other).pipe(new PassThrough()));
    assert.equal(other.given, 0);
    assert.equal(createHash("sha256").update(Buffer.concat(chunks)).digest("hex"), expected[0]);
  } finally {
    server.close();
    await Deno.remove(path);
  }
});

/**
 * A raw HTTP/1.1 server that answers every request 200, except that it takes the whole body of the
 * `dropped`th request and closes the connection without a word, as a proxy or server can between the end
 * of a body and its answer. Resolves each request's body digest as received.
 */
function dropOneServer(dropped: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const bodies: { request: number; sha256: string }[] = [];
  let requests = 0;
  const serve = async (conn: Deno.Conn) => {
    let pending = new Uint8Array(0);
    const readMore = async () => {
      const chunk = new Uint8Array(65_536);
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return false;
      pending = Buffer.concat([pending, chunk.subarray(0, n)]);
      return true;
    };
    try {
      for (;;) {
        let end: number;
        while ((end = Buffer.from(pending).indexOf("\r\n\r\n")) < 0) if (!await readMore()) return;
        const head = new TextDecoder().decode(pending.subarray(0, end));
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        pending = pending.subarray(end + 4);
        while (pending.length < length) if (!await readMore()) return;
        const request = ++requests;
        bodies.push({
          request,
          sha256: createHash("sha256").update(pending.subarray(0, length)).digest("hex"),
        });
        pending = pending.subarray(length);
        if (request === dropped) return;
        await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
      }
    } finally {
      conn.close();
    }
  };
  (async () => {
    for await (const conn of listener) serve(conn).catch(() => {});
  })();
  return { port: (listener.addr as Deno.NetAddr).port, bodies, close: () => listener.close() };
}

Deno.test("openRange into a request whose reused connection closes unanswered: the request fails at once", async () => {
  // Deno's node:http sends such a request again by itself, from the chunks it kept of the first attempt
  // (by reference: pooled buffers, since reused), and with a streamed body it never sends the second
  // attempt at all: the request hung for good. It must fail instead, so the SDK's own retry sends a fresh stream.
  await withFile(async (path) => {
    const server = dropOneServer(2);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const put = (body: Readable | string, length: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request({
          host: "127.0.0.1",
          port: server.port,
          method: "PUT",
          agent,
          headers: { "content-length": length },
        }, (res) => res.resume().on("end", () => resolve(res.statusCode!)));
        req.on("error", reject);
        if (typeof body === "string") req.end(body);
        else body.pipe(req);
      });
    try {
      assert.equal(await put("hello", 5), 200); // the connection the next request reuses
      const range = { path, start: 0, length: 250_000 };
      const outcome = await orHung(
        put(openRange(range, new ScribblingPool(64 * 1024, 4)), range.length).then(
          (status) => `answered ${status}`,
          (err: Error) => `failed: ${err.message}`,
        ),
        5000,
      );
      assert.match(outcome, /^failed: /);
      // Whatever reached the server was the range's bytes.
      const expected = createHash("sha256").update(data.subarray(0, range.length)).digest("hex");
      for (const body of server.bodies.slice(1)) {
        assert.equal(body.sha256, expected, `request ${body.request}`);
      }
      assert.equal(server.bodies.length, 2);
    } finally {
      agent.destroy();
      server.close();
    }
  });
});
