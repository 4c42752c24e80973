/**
 * walship against Azure Blob Storage (Azurite), end to end through the real CLI: the forms of Litestream's
 * and Stash's Azure guides (URL, LITESTREAM_AZURE_ACCOUNT_KEY, AZURE_ACCOUNT_NAME/AZURE_ACCOUNT_KEY, SAS
 * token), point-in-time restore, `ltx`, clear one-line errors that never hold a secret, and faults.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from "./helpers/azurite.ts";
import { type RunResult, runWalship, sleep, WalshipProcess } from "./helpers/cli.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";

// One server for the whole file; the last test stops it.
const azurite = await startAzurite();
const KEY_ENV = { LITESTREAM_AZURE_ACCOUNT_KEY: AZURITE_KEY };

let containerCount = 0;
async function newContainer(): Promise<string> {
  const name = `cli${++containerCount}-${Date.now().toString(36)}`;
  await azurite.createContainer(name);
  return name;
}

function absUrl(container: string, options: { account?: boolean; endpoint?: string } = {}): string {
  const account = options.account === false ? "" : `${AZURITE_ACCOUNT}@`;
  return `abs://${account}${container}/apps/db?endpoint=${options.endpoint ?? azurite.endpoint}`;
}

/** A database whose rows carry random bytes (incompressible, so LTX files have the size asked for). */
class App {
  readonly path: string;
  readonly db: DatabaseSync;
  #next = 1;
  constructor(dir: string) {
    this.path = join(dir, "app.db");
    this.db = new DatabaseSync(this.path, { timeout: 5000 });
    this.db.exec("PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)");
  }
  /** `count` transactions of one row of `bytes` random bytes each. */
  write(count: number, bytes = 300): void {
    const insert = this.db.prepare("INSERT INTO t(id, v) VALUES (?, ?)");
    for (let i = 0; i < count; i++) insert.run(this.#next++, randomBytes(bytes));
  }
  digest(): string {
    return dumpDigest(this.path).digest;
  }
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

function assertOk(r: RunResult, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
}

async function restoreDigest(
  url: string,
  env: Record<string, string>,
  flags: string[] = [],
): Promise<string> {
  const out = join(await Deno.makeTempDir({ prefix: "walship-abs-restore-" }), "restored.db");
  assertOk(await runWalship(["restore", ...flags, "-o", out, url], env), "restore");
  const dump = dumpDigest(out);
  assert.equal(dump.integrity, "ok");
  return dump.digest;
}

async function maxTxid(url: string, env: Record<string, string>): Promise<string> {
  const r = await runWalship(["ltx", "-json", "-level", "all", url], env);
  assertOk(r, "ltx");
  const rows = JSON.parse(r.stdout) as { max_txid: string }[];
  assert.ok(rows.length > 0, "the replica lists files");
  return rows.map((row) => row.max_txid).sort().at(-1)!;
}

Deno.test("abs:// with LITESTREAM_AZURE_ACCOUNT_KEY: replicate, ltx, restore latest and -txid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-abs-" });
  const app = new App(dir);
  const container = await newContainer();
  const url = absUrl(container);
  try {
    app.write(20);
    assertOk(await runWalship(["replicate", "-once", app.path, url], KEY_ENV), "replicate -once");
    const firstTxid = await maxTxid(url, KEY_ENV);
    const firstDigest = app.digest();

    app.write(30);
    const walship = new WalshipProcess(["replicate", "-sync-interval", "100ms", app.path, url], KEY_ENV);
    try {
      await sleep(1500);
      app.write(10);
    } finally {
      assertOk(await walship.stop("SIGTERM"), "replicate");
    }
    assert.equal(await restoreDigest(url, KEY_ENV), app.digest(), "latest restore equals the source");
    assert.equal(
      await restoreDigest(url, KEY_ENV, ["-txid", firstTxid]),
      firstDigest,
      "-txid gives that state",
    );

    const listed = await runWalship(["ltx", url], KEY_ENV);
    assertOk(listed, "ltx");
    assert.match(listed.stdout, /^level\tmin_txid\tmax_txid\tsize\tcreated\n0\t0{15}1\t/);

    // Both config forms: Litestream's fields (key from an expanded variable) and url:.
    const forms = {
      fields: `type: abs
      account-name: ${AZURITE_ACCOUNT}
      account-key: \${TEST_ABS_KEY}
      bucket: ${container}
      path: /apps/db/
      endpoint: ${azurite.endpoint}
      max-connections: 2`,
      url: `url: ${url}`,
    };
    for (const [form, env] of [["fields", { TEST_ABS_KEY: AZURITE_KEY }], ["url", KEY_ENV]] as const) {
      const config = join(dir, `walship-${form}.yml`);
      await Deno.writeTextFile(config, `dbs:\n  - path: ${app.path}\n    replica:\n      ${forms[form]}\n`);
      const out = join(dir, `config-${form}.db`);
      assertOk(
        await runWalship(["restore", "-config", config, "-o", out, app.path], env),
        `restore (${form})`,
      );
      assert.equal(dumpDigest(out).digest, app.digest(), `config form ${form}`);
    }
  } finally {
    app.db.close();
  }
});

Deno.test("abs:// with Stash's AZURE_ACCOUNT_NAME/AZURE_ACCOUNT_KEY; with a SAS token, and snapshot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-abs-" });
  const app = new App(dir);
  try {
    app.write(15);
    const stashEnv = { AZURE_ACCOUNT_NAME: AZURITE_ACCOUNT, AZURE_ACCOUNT_KEY: AZURITE_KEY };
    const stashUrl = absUrl(await newContainer(), { account: false });
    assertOk(await runWalship(["replicate", "-once", app.path, stashUrl], stashEnv), "replicate (Stash)");
    assert.equal(await restoreDigest(stashUrl, stashEnv), app.digest());

    const container = await newContainer();
    const sasEnv = { LITESTREAM_AZURE_SAS_TOKEN: azurite.sasToken(container) };
    const sasUrl = absUrl(container, { account: false });
    assertOk(await runWalship(["replicate", "-once", app.path, sasUrl], sasEnv), "replicate (SAS)");
    app.write(5);
    // The cron-style snapshot command writes a new L9 file; restore gets the latest state from it.
    assertOk(await runWalship(["snapshot", app.path, sasUrl], sasEnv), "snapshot (SAS)");
    const snapshots = await runWalship(["ltx", "-json", "-level", "9", sasUrl], sasEnv);
    assertOk(snapshots, "ltx -level 9");
    const newest = (JSON.parse(snapshots.stdout) as { max_txid: string }[]).at(-1);
    assert.equal(newest?.max_txid, await maxTxid(sasUrl, sasEnv), "the snapshot holds the newest state");
    assert.equal(await restoreDigest(sasUrl, sasEnv), app.digest());
  } finally {
    app.db.close();
  }
});

/** Exit 1 and one `error:` line (plus at most a hint), with no secret anywhere in the output. */
function assertCleanFailure(r: RunResult, pattern: RegExp, ...secrets: string[]): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.ok(lines.length <= 2 && lines[0]!.startsWith("error: "), `one error line (+hint):\n${r.stderr}`);
  assert.ok(lines.slice(1).every((l) => l.startsWith("hint: ")), r.stderr);
  assert.match(lines[0]!, pattern);
  for (const secret of secrets) {
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), "no secret in the output");
  }
}

Deno.test("abs:// with a missing container: exit 1, one line, no key in the output", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-abs-" });
  const app = new App(dir);
  try {
    app.write(3);
    const url = absUrl("no-such-container");
    const missing = /container "no-such-container" does not exist/;
    const started = Date.now();
    assertCleanFailure(await runWalship(["ltx", url], KEY_ENV), missing, AZURITE_KEY);
    const out = join(dir, "out.db");
    assertCleanFailure(await runWalship(["restore", "-o", out, url], KEY_ENV), missing, AZURITE_KEY);
    assertCleanFailure(
      await runWalship(["replicate", "-once", app.path, url], KEY_ENV),
      missing,
      AZURITE_KEY,
    );
    assert.ok(Date.now() - started < 20_000, "not retried for long");
    const sas = azurite.sasToken("no-such-container");
    const sasEnv = { LITESTREAM_AZURE_SAS_TOKEN: sas };
    const sig = new URLSearchParams(sas).get("sig")!;
    assertCleanFailure(await runWalship(["ltx", url], sasEnv), missing, sas, sig);
  } finally {
    app.db.close();
  }
});

Deno.test("abs:// with no credential: exit 1 within seconds, one line naming what was tried", async () => {
  const url = `abs://${AZURITE_ACCOUNT}@ctr/db?endpoint=https://127.0.0.1:${azurite.port}/${AZURITE_ACCOUNT}`;
  const started = Date.now();
  const r = await runWalship(["ltx", url], { ...BLANK_AZURE_ENV });
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  assertCleanFailure(r, /no sas-token.*no account-key.*DefaultAzureCredential found none/);
  assert.match(r.stderr, /hint: .*LITESTREAM_AZURE_ACCOUNT_KEY/);
});

/** Identity variables the parent may have, blanked so the child sees none. */
const BLANK_AZURE_ENV = Object.fromEntries(
  Object.keys(Deno.env.toObject()).filter((k) => /^(AZURE_|LITESTREAM_AZURE_)/.test(k)).map((k) => [k, ""]),
);

Deno.test("abs:// with a service principal the token endpoint refuses: one clear line, secret unseen", async () => {
  const tls = await makeTestCertificates();
  const secret = "client-secret-that-must-not-show";
  let tokenRequests = 0;
  let base = "";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key, onListen() {} },
    (req) => {
      const m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(new URL(req.url).pathname);
      if (m) {
        const tenant = `${base}/${m[1]}`;
        return Response.json({
          issuer: `${tenant}/v2.0`,
          authorization_endpoint: `${tenant}/oauth2/v2.0/authorize`,
          token_endpoint: `${tenant}/oauth2/v2.0/token`,
          jwks_uri: `${tenant}/discovery/v2.0/keys`,
        });
      }
      tokenRequests++;
      return Response.json({
        error: "invalid_client",
        error_description: "AADSTS7000215: Invalid client secret provided.",
        error_codes: [7000215],
      }, { status: 401 });
    },
  );
  base = `https://127.0.0.1:${server.addr.port}`;
  try {
    const url =
      `abs://${AZURITE_ACCOUNT}@ctr/db?endpoint=https://127.0.0.1:${azurite.port}/${AZURITE_ACCOUNT}`;
    const started = Date.now();
    const r = await runWalship(["ltx", url], {
      ...BLANK_AZURE_ENV,
      AZURE_CLIENT_ID: "00000000-0000-0000-0000-000000000001",
      AZURE_TENANT_ID: "walship-test-tenant",
      AZURE_CLIENT_SECRET: secret,
      AZURE_AUTHORITY_HOST: base,
      // The child trusts the test CA. NODE_EXTRA_CA_CERTS would make Deno's node:tls ask for --allow-sys=ca.
      DENO_CERT: tls.caPath,
      NODE_EXTRA_CA_CERTS: "",
    });
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    assertCleanFailure(
      r,
      /EnvironmentCredential failed: invalid_client: AADSTS7000215: Invalid client secret provided\.$/,
      secret,
    );
    assert.match(r.stderr, /hint: check AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET/);
    assert.ok(tokenRequests >= 1, "the token endpoint was asked");
  } finally {
    await server.shutdown();
  }
});

/** A throwaway CA and a 127.0.0.1 certificate it signed, made with openssl. */
async function makeTestCertificates(): Promise<{ caPath: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "walship-tls-" });
  const openssl = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=walship test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  );
  await openssl("req", ...ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1");
  await Deno.writeTextFile(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  return {
    caPath: join(dir, "ca.pem"),
    cert: await Deno.readTextFile(join(dir, "cert.pem")),
    key: await Deno.readTextFile(join(dir, "key.pem")),
  };
}

Deno.test("abs:// through 500s, 503s, resets and delays: nothing lost; a restore through resets completes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-abs-faults-" });
  const app = new App(dir);
  const container = await newContainer();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: azurite.port });
  const viaProxy = absUrl(container, { endpoint: `${proxy.url}/${AZURITE_ACCOUNT}` });
  try {
    // Large enough that the first snapshot goes up in several blocks.
    app.write(12, 512 << 10);
    proxy.setFaults({ errorRate: 0.1, slowDownRate: 0.1, resetRate: 0.1, delayMs: [0, 20] });
    const replicate = new WalshipProcess(
      ["replicate", "-sync-interval", "100ms", app.path, viaProxy],
      KEY_ENV,
    );
    try {
      for (let i = 0; i < 20; i++) {
        app.write(5, 2000);
        await sleep(100);
      }
      const faulted = proxy.stats();
      assert.ok(faulted.errors + faulted.slowDowns + faulted.resets >= 3, JSON.stringify(faulted));
      proxy.clear();
      await sleep(1500);
    } finally {
      assertOk(await replicate.stop("SIGTERM"), "replicate through faults");
    }
    assert.equal(await restoreDigest(absUrl(container), KEY_ENV), app.digest(), "nothing lost");

    proxy.setFaults({ resetRate: 0.3 });
    assert.equal(await restoreDigest(viaProxy, KEY_ENV), app.digest(), "restore through resets");
    assert.ok(proxy.stats().resets > 0, "some reads were cut");
  } finally {
    app.db.close();
    await proxy.close();
  }
});

Deno.test({
  name: "stop Azurite",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => azurite.stop(),
});
