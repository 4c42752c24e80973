import assert from "node:assert/strict";
import { CorruptionError, NotFoundError, StorageError, UsageError } from "../util/errors.ts";
import { Logger } from "../util/log.ts";
import { FileStore } from "./file.ts";
import { openReplicaStore } from "./open.ts";
import { isRetriableError, type RetryOptions, withRetries } from "./retry.ts";
import {
  type ByteRange,
  bytesBody,
  type LtxFileInfo,
  type LtxFileRef,
  type ReplicaStore,
  type WriteBody,
} from "./store.ts";
import { runStoreConformance } from "./store_conformance.ts";

runStoreConformance("retrying file store", async () => withRetries(new FileStore(await Deno.makeTempDir())));

type Op = "list" | "open" | "write" | "remove";

/** A real FileStore whose next calls fail with queued errors; counts every call it receives. */
class FlakyStore implements ReplicaStore {
  readonly inner: FileStore;
  readonly calls: Record<Op, number> = { list: 0, open: 0, write: 0, remove: 0 };
  #failures: Record<Op, unknown[]> = { list: [], open: [], write: [], remove: [] };
  constructor(root: string) {
    this.inner = new FileStore(root);
  }
  /** The next `count` calls of `op` throw `err`. */
  failNext(op: Op, count: number, err: unknown): this {
    for (let i = 0; i < count; i++) this.#failures[op].push(err);
    return this;
  }
  describe(): string {
    return this.inner.describe();
  }
  list(level: number): Promise<LtxFileInfo[]> {
    return this.#call("list", () => this.inner.list(level));
  }
  open(file: LtxFileRef, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    return this.#call("open", () => this.inner.open(file, range));
  }
  async write(file: LtxFileRef & { createdAt: number }, body: WriteBody): Promise<LtxFileInfo> {
    this.calls.write++;
    const err = this.#failures.write.shift();
    if (err === undefined) return await this.inner.write(file, body);
    // Fail mid-upload: the stream of this attempt is half read, so a retry must open a new one.
    const reader = body.open().getReader();
    await reader.read();
    await reader.cancel();
    throw err;
  }
  remove(files: readonly LtxFileRef[]): Promise<void> {
    return this.#call("remove", () => this.inner.remove(files));
  }
  async #call<T>(op: Op, call: () => Promise<T>): Promise<T> {
    this.calls[op]++;
    const err = this.#failures[op].shift();
    if (err !== undefined) throw err;
    return await call();
  }
}

const REF = { level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 1_700_000_000_000 };

/** A store over a fresh temp dir plus the delays the retry decorator asked to sleep (never really slept). */
async function setup(options: RetryOptions = {}) {
  const flaky = new FlakyStore(await Deno.makeTempDir());
  const delays: number[] = [];
  const store = withRetries(flaky, {
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    ...options,
  });
  return { flaky, store, delays };
}

const retriable = () => new StorageError("Cannot list: connection reset", { retriable: true });

Deno.test("withRetries() retries retriable errors until the call succeeds", async () => {
  const { flaky, store, delays } = await setup();
  await flaky.inner.write(REF, bytesBody(new Uint8Array(3)));
  flaky.failNext("list", 2, retriable());
  assert.equal((await store.list(0)).length, 1);
  assert.equal(flaky.calls.list, 3);
  assert.equal(delays.length, 2);

  flaky.failNext("open", 1, new TypeError("error sending request: connection refused"));
  const bytes = await new Response(await store.open(REF)).bytes();
  assert.equal(bytes.length, 3);
  assert.equal(flaky.calls.open, 2);

  flaky.failNext("remove", 4, retriable());
  await store.remove([REF]);
  assert.equal(flaky.calls.remove, 5);
  assert.deepEqual(await flaky.inner.list(0), []);
});

Deno.test("withRetries() gives up after `attempts` tries with the last error", async () => {
  const { flaky, store, delays } = await setup({ attempts: 3 });
  const last = new StorageError("Cannot list: 503 SlowDown", { retriable: true });
  flaky.failNext("list", 2, retriable()).failNext("list", 1, last).failNext("list", 1, retriable());
  await assert.rejects(() => store.list(0), (err) => err === last);
  assert.equal(flaky.calls.list, 3);
  assert.equal(delays.length, 2);
});

Deno.test("withRetries() passes non-retriable errors straight through", async () => {
  const errors = [
    new NotFoundError("Cannot open: not found"),
    new NotFoundError("Cannot open: not found", { retriable: true }),
    new CorruptionError("Checksum mismatch"),
    new UsageError("Bad URL"),
    new StorageError("Cannot open: permission denied"),
  ];
  for (const err of errors) {
    const { flaky, store, delays } = await setup();
    flaky.failNext("open", 1, err);
    await assert.rejects(() => store.open(REF), (thrown) => thrown === err);
    assert.equal(flaky.calls.open, 1, err.message);
    assert.equal(delays.length, 0);
  }
  assert.equal(isRetriableError(new TypeError("network")), true);
  assert.equal(isRetriableError(new StorageError("x", { retriable: true })), true);
});

Deno.test("withRetries() replays the write body on each attempt", async () => {
  const { flaky, store } = await setup();
  const data = crypto.getRandomValues(new Uint8Array(4096));
  let opens = 0;
  const body = {
    sizeBytes: data.length,
    open: () => {
      opens++;
      return bytesBody(data).open();
    },
  };
  flaky.failNext("write", 2, retriable());
  const info = await store.write(REF, body);
  assert.equal(info.sizeBytes, data.length);
  assert.equal(flaky.calls.write, 3);
  assert.equal(opens, 3);
  assert.deepEqual(await new Response(await flaky.inner.open(REF)).bytes(), data);
});

Deno.test("withRetries() stops retrying once the signal fired", async () => {
  // Aborted while the call was failing: no second attempt.
  const { flaky, store, delays } = await setup();
  const controller = new AbortController();
  flaky.failNext("list", 1, retriable());
  const listing = store.list(0, controller.signal);
  controller.abort();
  await assert.rejects(() => listing, StorageError);
  assert.equal(flaky.calls.list, 1);
  assert.equal(delays.length, 0);

  // Aborted during the backoff (the real sleep, with a minute-long delay): it ends at once with the reason.
  const slow = await setup({ sleep: undefined, baseDelayMs: 60_000, random: () => 0.99 });
  const during = new AbortController();
  slow.flaky.failNext("list", 2, retriable());
  const started = performance.now();
  const pending = slow.store.list(0, during.signal);
  setTimeout(() => during.abort(new Error("stopping")), 10);
  await assert.rejects(() => pending, /stopping/);
  assert.ok(performance.now() - started < 5_000);
  assert.equal(slow.flaky.calls.list, 1);
});

Deno.test("withRetries() backs off exponentially with full jitter, capped at maxDelayMs", async () => {
  const { flaky, store, delays } = await setup({
    attempts: 9,
    baseDelayMs: 100,
    maxDelayMs: 1_000,
    random: () => 0.999,
  });
  flaky.failNext("list", 8, retriable());
  await store.list(0);
  assert.deepEqual(delays, [99, 199, 399, 799, 999, 999, 999, 999]);

  const jittered = await setup({ attempts: 40, baseDelayMs: 100, maxDelayMs: 1_000 });
  jittered.flaky.failNext("list", 39, retriable());
  await jittered.store.list(0);
  assert.equal(jittered.delays.length, 39);
  assert.ok(jittered.delays.every((ms) => ms >= 0 && ms < 1_000), String(jittered.delays));
  assert.ok(new Set(jittered.delays).size > 1, "delays are jittered");
});

Deno.test("withRetries() logs each retry on one line with the error's message", async () => {
  const lines: string[] = [];
  const logger = new Logger({ level: "debug", write: (line) => lines.push(line) });
  const { flaky, store } = await setup({ logger });
  flaky.failNext("write", 2, new StorageError("Cannot write: socket hang up", { retriable: true }));
  await store.write(REF, bytesBody(new Uint8Array(1)));
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /DEBUG Retrying replica store call .*op=write attempt=1 .*"Cannot write: socket hang up"/,
  );
  assert.match(lines[1]!, /WARN Retrying replica store call .*attempt=2/);
  assert.ok(lines.every((line) => !line.includes("\n") && line.includes(`store=${store.describe()}`)));
});

Deno.test("withRetries() delegates describe() and rejects a bad attempts count", () => {
  const inner = new FileStore("/var/backups/app");
  assert.equal(withRetries(inner).describe(), "file:///var/backups/app");
  assert.throws(() => withRetries(inner, { attempts: 0 }), RangeError);
});

Deno.test("openReplicaStore() wraps the adapter in withRetries; a lasting fault is not retried", async () => {
  // A replica path under a regular file fails with ENOTDIR, which will not clear up by itself.
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/plain`, "x");
  const delays: number[] = [];
  const store = openReplicaStore({ type: "file", path: `${dir}/plain/replica` }, {
    attempts: 3,
    sleep: (ms) => Promise.resolve(void delays.push(ms)),
  });
  assert.ok(!(store instanceof FileStore), "wrapped");
  assert.equal(store.describe(), `file://${dir}/plain/replica`);
  await assert.rejects(() => store.write(REF, bytesBody(new Uint8Array(1))), StorageError);
  assert.equal(delays.length, 0);
});
