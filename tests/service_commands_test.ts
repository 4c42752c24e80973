/**
 * `walship databases` and `walship status` (text and -json) against a config file, `replicate -once
 * -config` over path and directory entries, and the one-line errors of a service that cannot start.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runWalship } from "./helpers/cli.ts";

/** Creates a WAL-mode database with rows; the connection stays open (closing the last one would remove the WAL). */
function createDb(path: string, rows: number): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode=wal; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)");
  for (let i = 0; i < rows; i++) db.exec("INSERT INTO t(v) VALUES (randomblob(300))");
  return db;
}

/** A user-facing failure: the exit code, then one `error:` line and at most one `hint:` line, no stack. */
function assertOneLineError(r: { code: number; stderr: string }, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, message);
  assert.ok(lines.length === 1 || (lines.length === 2 && lines[1]!.startsWith("hint: ")), r.stderr);
}

interface StatusRow {
  path: string;
  status: string;
  txid: string;
  wal_size: number;
  replicas: {
    name: string;
    url: string;
    txid: string | null;
    lag_seconds: number | null;
    newest: string | null;
    error?: string;
  }[];
}

Deno.test("replicate -once -config, then status and databases in text and -json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-status-" });
  await Deno.mkdir(join(dir, "tenants"));
  const apps = [
    createDb(join(dir, "a.db"), 10),
    createDb(join(dir, "tenants", "t1.db"), 5),
    createDb(join(dir, "tenants", "t2.db"), 7),
  ];
  try {
    const config = join(dir, "walship.yml");
    const write = (extraReplica: string) =>
      Deno.writeTextFile(
        config,
        `dbs:
  - path: ${dir}/a.db
    replicas:
      - path: ${dir}/replicas/a
        sync-interval: 250ms${extraReplica}
  - dir: ${dir}/tenants
    pattern: "t*.db"
    replica:
      url: file://${dir}/replicas/tenants
`,
      );
    await write("");
    let r = await runWalship(["replicate", "-once", "-config", config]);
    assert.equal(r.code, 0, r.stderr);

    r = await runWalship(["status", "-json", "-config", config]);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as StatusRow[];
    assert.deepEqual(rows.map((s) => s.path), [
      join(dir, "a.db"),
      join(dir, "tenants", "t1.db"),
      join(dir, "tenants", "t2.db"),
    ]);
    for (const row of rows) {
      assert.equal(row.status, "ok");
      assert.match(row.txid, /^[0-9a-f]{16}$/);
      assert.notEqual(row.txid, "0000000000000000");
      assert.ok(row.wal_size > 0);
      assert.equal(row.replicas.length, 1);
      assert.equal(row.replicas[0]!.txid, row.txid, "the replica holds the local TXID");
      assert.equal(row.replicas[0]!.lag_seconds, 0);
      assert.ok(
        row.replicas[0]!.newest !== null && Date.parse(row.replicas[0]!.newest) > Date.now() - 60_000,
      );
    }
    assert.equal(
      rows[1]!.replicas[0]!.url,
      `file://${dir}/replicas/tenants/t1.db`,
      "directory mode: own path",
    );

    // A replica added to the config and not yet shipped to lags by the age of the local changes.
    await write(`\n      - name: spare\n        path: ${dir}/replicas/spare`);
    r = await runWalship(["status", "-json", "-config", config, join(dir, "a.db")]);
    assert.equal(r.code, 0, r.stderr);
    const [one] = JSON.parse(r.stdout) as StatusRow[];
    assert.equal(one!.path, join(dir, "a.db"));
    assert.deepEqual(one!.replicas.map((x) => [x.name, x.txid === one!.txid, x.lag_seconds! > 0]), [
      ["file-1", true, false],
      ["spare", false, true],
    ]);

    r = await runWalship(["status", "-config", config]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "database\tstatus\tlocal_txid\twal_size\treplica\treplica_txid\tlag");
    assert.equal(lines.length, 1 + 4, r.stdout);
    assert.match(
      lines[1]!,
      new RegExp(`^${join(dir, "a.db")}\tok\t[0-9a-f]{16}\t[0-9.]+ KiB\tfile-1\t[0-9a-f]{16}\t0\\.0s$`),
    );

    r = await runWalship(["databases", "-json", "-config", config]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [
      {
        path: join(dir, "a.db"),
        replicas: [
          { name: "file-1", type: "file", url: `file://${dir}/replicas/a`, sync_interval: "250ms" },
          { name: "spare", type: "file", url: `file://${dir}/replicas/spare`, sync_interval: "1s" },
        ],
      },
      {
        dir: join(dir, "tenants"),
        pattern: "t*.db",
        recursive: false,
        watch: false,
        replicas: [{
          name: "file",
          type: "file",
          url: `file://${dir}/replicas/tenants`,
          sync_interval: "1s",
        }],
      },
    ]);
    r = await runWalship(["databases", "-config", config]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), [
      "database\treplica\ttype\tsync_interval\tlocation",
      `${dir}/a.db\tfile-1\tfile\t250ms\tfile://${dir}/replicas/a`,
      `${dir}/a.db\tspare\tfile\t1s\tfile://${dir}/replicas/spare`,
      `${dir}/tenants/t*.db\tfile\tfile\t1s\tfile://${dir}/replicas/tenants`,
    ]);
  } finally {
    for (const app of apps) app.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("databases never prints credentials; status of an unreachable replica says so and exits 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-databases-" });
  try {
    const secrets = ["AKIASECRETEXAMPLE99", "s3cr3t/Key+Value==", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="];
    const closed = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      return port;
    })();
    const config = join(dir, "walship.yml");
    await Deno.writeTextFile(
      config,
      `access-key-id: ${secrets[0]}
secret-access-key: ${secrets[1]}
dbs:
  - path: ${dir}/a.db
    replicas:
      - url: s3://bucket/app?endpoint=127.0.0.1:${closed}&forcePathStyle=true
      - type: abs
        account-name: devstoreaccount1
        account-key: ${secrets[2]}
        bucket: container
        endpoint: http://127.0.0.1:${closed}/devstoreaccount1
`,
    );
    for (const args of [["databases", "-config", config], ["databases", "-json", "-config", config]]) {
      const r = await runWalship(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /s3:\/\/bucket\/app/);
      assert.match(r.stdout, /abs:\/\//);
      for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${s} printed`);
    }
    createDb(join(dir, "a.db"), 1).close();
    const r = await runWalship(["status", "-json", "-config", config]);
    assertOneLineError(r, 1, /2 replica\(s\) could not be read/);
    const [row] = JSON.parse(r.stdout) as StatusRow[];
    assert.equal(row!.status, "not initialized");
    assert.ok(row!.replicas.every((x) => x.txid === null && typeof x.error === "string"));
    for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${s} printed`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("replicate -config: config and start-up errors are one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-svc-errors-" });
  try {
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      Deno.writeTextFileSync(path, text);
      return path;
    };
    const replica = `    replica:\n      path: ${dir}/r\n`;
    await Deno.writeTextFile(join(dir, "text.db"), "not a database, just some text .................");
    await Deno.mkdir(join(dir, "empty"));
    const cases: [string[], number, RegExp][] = [
      [
        [
          "replicate",
          "-config",
          file("typo.yml", `dbs:\n  - path: ${dir}/a.db\n    replcia:\n      path: /x\n`),
        ],
        2,
        /config line 3: .*"replcia"/,
      ],
      [["replicate", "-config", file("empty.yml", "dbs: []\n")], 2, /lists no databases/],
      [["replicate", "-config", join(dir, "missing.yml")], 2, /not found/],
      [
        ["replicate", "-config", file("bad-addr.yml", `addr: nope\ndbs:\n  - path: ${dir}/a.db\n${replica}`)],
        2,
        /addr/,
      ],
      [
        ["replicate", "-config", file("not-db.yml", `dbs:\n  - path: ${dir}/text.db\n${replica}`)],
        1,
        /not a SQLite database/,
      ],
      [
        [
          "replicate",
          "-config",
          file("empty-dir.yml", `dbs:\n  - dir: ${dir}/empty\n    pattern: "*.db"\n${replica}`),
        ],
        1,
        /No SQLite databases match/,
      ],
      [
        [
          "replicate",
          "-config",
          file("x.yml", `dbs:\n  - path: ${dir}/a.db\n${replica}`),
          join(dir, "a.db"),
          `file://${dir}/r2`,
        ],
        2,
        /Cannot use -config together with/,
      ],
      [
        ["replicate", "-once", "-exec", "true", join(dir, "a.db"), `file://${dir}/r2`],
        2,
        /-exec cannot be used with -once/,
      ],
    ];
    for (const [args, code, message] of cases) {
      assertOneLineError(await runWalship(args), code, message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
