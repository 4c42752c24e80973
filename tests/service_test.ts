/**
 * `walship replicate -config` as a service, a real child process: three database entries (one a watched
 * directory that gains a database while running), each to a file replica and an S3 replica (s3rver on
 * loopback behind a fault proxy). The S3 replicas fail for a while: the file replicas keep going, S3
 * catches up after. Metrics are scraped over HTTP; after SIGTERM every database restores from every
 * replica to its exact content. Then -exec: the child's exit code and last write survive.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runWalship, sleep, waitFor, walshipArgs, WalshipProcess } from "./helpers/cli.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { freePort, startS3Server } from "./helpers/s3_server.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";

/** An application database in WAL mode that inserts rows of random bytes. */
class App {
  db: DatabaseSync;
  rows = 0;
  constructor(readonly path: string) {
    this.db = new DatabaseSync(path, { timeout: 5000 });
    this.db.exec("PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)");
  }
  insert(count: number, bytes = 400): void {
    this.db.exec("BEGIN");
    for (let i = 0; i < count; i++) {
      this.db.prepare("INSERT INTO t(id, v) VALUES (?, randomblob(?))").run(++this.rows, bytes);
    }
    this.db.exec("COMMIT");
  }
}

type Metrics = Map<string, number>;

/** Parses the exposition text into `name{labels}` → value. */
async function scrape(url: string): Promise<Metrics> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  const metrics: Metrics = new Map();
  for (const line of (await response.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    metrics.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return metrics;
}

const dbKey = (name: string, db: string) => `${name}{db="${db}"}`;
const replicaKey = (name: string, db: string, replica: string) => `${name}{db="${db}",replica="${replica}"}`;

function replicaTxid(m: Metrics, db: string, replica: string): number | undefined {
  return m.get(replicaKey("walship_replica_txid", db, replica));
}

/** Every database has a TXID beyond `after` and every listed replica holds it. */
function caughtUp(m: Metrics, after: Map<string, number>, replicas: string[]): boolean {
  return [...after].every(([db, before]) => {
    const txid = m.get(dbKey("walship_db_txid", db));
    return txid !== undefined && txid > before && replicas.every((r) => replicaTxid(m, db, r) === txid);
  });
}

function txids(m: Metrics, dbs: string[]): Map<string, number> {
  return new Map(dbs.map((db) => [db, m.get(dbKey("walship_db_txid", db)) ?? 0]));
}

Deno.test("replicate -config: three entries (one a watched directory) to file and S3; S3 fails, the rest goes on, S3 catches up; every replica restores", async () => {
  const server = await startS3Server();
  const proxy = await startFaultProxy({ hostname: "127.0.0.1", port: server.port });
  const dir = await Deno.makeTempDir({ prefix: "walship-service-" });
  let walship: WalshipProcess | undefined;
  const apps: App[] = [];
  try {
    await server.createBucket("svc");
    await Deno.mkdir(join(dir, "tenants"));
    const a = new App(join(dir, "a.db"));
    const b = new App(join(dir, "b.db"));
    const t1 = new App(join(dir, "tenants", "t1.db"));
    apps.push(a, b, t1);
    for (const app of apps) app.insert(20);
    const metricsPort = freePort();
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const s3 = (path: string) => `
      - type: s3
        bucket: svc
        path: ${path}
        endpoint: ${proxy.url}
        force-path-style: true`;
    const configPath = join(dir, "walship.yml");
    await Deno.writeTextFile(
      configPath,
      `
addr: 127.0.0.1:${metricsPort}
logging:
  type: json
  stderr: true
shutdown-sync-timeout: 15s
access-key-id: \${TEST_KEY_ID}
secret-access-key: \${TEST_SECRET}
sync-interval: 100ms
dbs:
  - path: ${a.path}
    monitor-interval: 100ms
    replicas:
      - url: file://${dir}/replicas/a${s3("a")}
  - path: ${b.path}
    monitor-interval: 100ms
    replicas:
      - path: ${dir}/replicas/b${s3("b")}
  - dir: ${dir}/tenants
    pattern: "*.db"
    watch: true
    monitor-interval: 100ms
    replicas:
      - path: ${dir}/replicas/tenants${s3("tenants")}
`,
    );
    walship = new WalshipProcess(["replicate", "-config", configPath], {
      TEST_KEY_ID: server.accessKeyId,
      TEST_SECRET: server.secretAccessKey,
    });
    let dbs = apps.map((app) => app.path);
    await waitFor("every database on both replicas", async () => {
      try {
        return caughtUp(await scrape(metricsUrl), new Map(dbs.map((db) => [db, 0])), ["file", "s3"]);
      } catch {
        return false; // not listening yet
      }
    });

    // A database created in the watched directory while running is picked up.
    const t2 = new App(join(dir, "tenants", "t2.db"));
    apps.push(t2);
    t2.insert(10);
    dbs = apps.map((app) => app.path);
    let before = txids(await scrape(metricsUrl), dbs);
    for (const app of apps) app.insert(10);
    await waitFor("the new database and the new rows on both replicas", async () => {
      return caughtUp(await scrape(metricsUrl), before, ["file", "s3"]);
    });

    // S3 fails: the file replicas keep up, S3 falls behind and counts errors.
    proxy.setFaults({ errorRate: 1 });
    before = txids(await scrape(metricsUrl), dbs);
    for (const app of apps) app.insert(10);
    await waitFor("file replicas to keep up while S3 fails", async () => {
      const m = await scrape(metricsUrl);
      return caughtUp(m, before, ["file"]) &&
        dbs.every((db) => (m.get(replicaKey("walship_replica_errors_total", db, "s3")) ?? 0) > 0);
    });
    let m = await scrape(metricsUrl);
    for (const db of dbs) {
      assert.ok(replicaTxid(m, db, "s3")! < m.get(dbKey("walship_db_txid", db))!, `${db}: S3 is behind`);
      assert.ok(m.get(replicaKey("walship_replica_lag_seconds", db, "s3"))! > 0, `${db}: S3 lag shows`);
      assert.equal(m.get(replicaKey("walship_replica_lag_seconds", db, "file")), 0, `${db}: file is current`);
    }

    // S3 is back: it catches up.
    proxy.clear();
    for (const app of apps) app.insert(5);
    await waitFor("S3 to catch up", async () => caughtUp(await scrape(metricsUrl), before, ["file", "s3"]));
    m = await scrape(metricsUrl);
    for (const db of dbs) {
      assert.ok(m.get(replicaKey("walship_replica_shipped_bytes_total", db, "s3"))! > 0);
      assert.ok(m.get(replicaKey("walship_replica_shipped_files_total", db, "file"))! > 0);
      assert.ok(m.get(dbKey("walship_wal_bytes", db))! > 0);
      assert.equal(m.get(replicaKey("walship_replica_lag_seconds", db, "s3")), 0);
    }

    // Last writes, then SIGTERM: the final sync ships them.
    for (const app of apps) app.insert(3);
    const stopped = await walship.stop("SIGTERM");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stdout, "", "logging.stderr: true keeps stdout clean");
    const logs = stopped.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => l.msg === "new database in watched directory" && l.db === t2.path));
    assert.ok(!stopped.stderr.includes(server.secretAccessKey + "\n"));

    const env = {
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    };
    const s3Url = (path: string) => `s3://svc/${path}?endpoint=127.0.0.1:${server.port}&forcePathStyle=true`;
    const replicaUrls = (app: App) => {
      const name = app.path.slice(dir.length + 1);
      const rel = name.startsWith("tenants/") ? name : name.replace(/\.db$/, "");
      return [`file://${dir}/replicas/${rel}`, s3Url(rel)];
    };
    for (const app of apps) {
      const expected = dumpDigest(app.path);
      assert.equal(expected.rows, app.rows);
      for (const url of replicaUrls(app)) {
        const out = join(dir, `restored-${apps.indexOf(app)}-${url.startsWith("s3") ? "s3" : "file"}.db`);
        const r = await runWalship(["restore", "-o", out, url], env);
        assert.equal(r.code, 0, `${url}: ${r.stderr}`);
        assert.deepEqual(dumpDigest(out), expected, url);
      }
    }
  } finally {
    walship?.kill("SIGKILL");
    await walship?.finished();
    for (const app of apps) app.db.close();
    await proxy.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/** walship allowed to start one program, the tests' own deno (for -exec), with its output collected. */
function spawnWalshipExec(args: string[]): { child: Deno.ChildProcess; output: Promise<Deno.CommandOutput> } {
  const argv = walshipArgs(args);
  argv.splice(1, 0, `--allow-run=${Deno.execPath()}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: argv,
    env: { AWS_EC2_METADATA_DISABLED: "true", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, output: child.output() };
}

/** The application: creates its database, writes 20 rows, then exits 3 ("exit3") or waits for SIGTERM. */
const APP_SCRIPT = `
import { DatabaseSync } from "node:sqlite";
const [path, mode] = Deno.args;
const db = new DatabaseSync(path, { timeout: 5000 });
db.exec("PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, note TEXT)");
for (let i = 0; i < 20; i++) {
  db.prepare("INSERT INTO t(note) VALUES (?)").run("row " + i);
  await new Promise((r) => setTimeout(r, 20));
}
if (mode === "exit3") {
  db.prepare("INSERT INTO t(note) VALUES ('last before exit 3')").run();
  Deno.exit(3);
}
Deno.addSignalListener("SIGTERM", () => {
  db.prepare("INSERT INTO t(note) VALUES ('written on SIGTERM')").run();
  Deno.exit(0);
});
setInterval(() => {}, 1000);
`;

async function execSetup() {
  const dir = await Deno.makeTempDir({ prefix: "walship-exec-" });
  const script = join(dir, "app.ts");
  await Deno.writeTextFile(script, APP_SCRIPT);
  const dbPath = join(dir, "app.db");
  const app = (mode: string) =>
    `${Deno.execPath()} run --quiet --no-config --allow-read=${dir} --allow-write=${dir} ${script} ${dbPath} ${mode}`;
  return { dir, dbPath, url: `file://${join(dir, "replica")}`, app };
}

async function restoredNotes(url: string, out: string): Promise<string[]> {
  const r = await runWalship(["restore", "-o", out, url]);
  assert.equal(r.code, 0, r.stderr);
  const db = new DatabaseSync(out, { readOnly: true });
  try {
    return db.prepare("SELECT note FROM t ORDER BY id").all().map((row) => (row as { note: string }).note);
  } finally {
    db.close();
  }
}

Deno.test("replicate -exec: the application creates its database and exits 3; walship syncs its last write and exits 3", async () => {
  const { dir, dbPath, url, app } = await execSetup();
  try {
    const { output } = spawnWalshipExec([
      "replicate",
      "-exec",
      app("exit3"),
      "-sync-interval",
      "100ms",
      dbPath,
      url,
    ]);
    const out = await output;
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 3, stderr);
    assert.match(stderr, /application exited code=3/);
    const notes = await restoredNotes(url, join(dir, "restored.db"));
    assert.equal(notes.length, 21);
    assert.equal(notes.at(-1), "last before exit 3");
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("replicate -exec: SIGTERM goes to the application first; what it writes on the way out is shipped", async () => {
  const { dir, dbPath, url, app } = await execSetup();
  const { child, output } = spawnWalshipExec([
    "replicate",
    "-exec",
    app("serve"),
    "-sync-interval",
    "100ms",
    dbPath,
    url,
  ]);
  try {
    await waitFor("the application's rows in the replica", () => {
      try {
        return [...Deno.readDirSync(join(dir, "replica", "ltx", "0"))].length > 0;
      } catch {
        return false;
      }
    });
    await sleep(600); // the application finishes its 20 rows
    child.kill("SIGTERM");
    const out = await output;
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(stderr, /waiting for the application to exit/);
    const notes = await restoredNotes(url, join(dir, "restored.db"));
    assert.equal(notes.at(-1), "written on SIGTERM");
    assert.equal(notes.length, 21);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await output.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
