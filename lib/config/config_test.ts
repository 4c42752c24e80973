import assert from "node:assert/strict";
import { resolve } from "node:path";
import { UsageError } from "../util/errors.ts";
import {
  DEFAULT_CONFIG_PATH,
  defaultConfigPath,
  findDatabase,
  loadConfig,
  parseConfig,
  redactedConfig,
  type WalshipConfig,
} from "./config.ts";
import { loadYaml } from "./yaml_source.ts";

await loadYaml();

const ENV = { HOME: "/home/ops", BUCKET: "env-bucket", EMPTY: "" };

function parse(text: string, env: Record<string, string> = ENV, expandEnv = true): WalshipConfig {
  return parseConfig(text, { path: "/etc/walship.yml", env, expandEnv });
}

/** Every key of compat.md (S3 and ABS replica keys included) in one file. */
const FULL = `
addr: "127.0.0.1:9090"
exec: "myapp --serve"
logging:
  level: DEBUG
  type: json
  stderr: true
levels:
  - interval: 10s
  - interval: 2m
snapshot:
  interval: 12h
  retention: 72h
  keep-last: 3
  keep-hourly: 24
  keep-daily: 7
  keep-weekly: 4
  keep-monthly: 6
l0-retention: 10m
l0-retention-check-interval: 30s
retention:
  enabled: false
shutdown-sync-timeout: 1m
shutdown-sync-interval: 250ms
sync-interval: 5s
access-key-id: AKIAGLOBALEXAMPLE1
secret-access-key: globalSecretExampleKey1
region: eu-west-1
account-name: globalacct
account-key: globalAccountKeyExample==
max-connections: 7
dbs:
  - path: sqlite:///data/app.db
    meta-path: ~/state/app
    monitor-interval: 250ms
    checkpoint-interval: 0
    busy-timeout: 5s
    min-checkpoint-page-count: 500
    truncate-page-n: 200000
    max-sync-wal-bytes: 16MiB
    restore-if-db-not-exists: true
    replicas:
      - name: primary
        type: s3
        bucket: backups
        path: /app/
        endpoint: 127.0.0.1:9000
        force-path-style: false
        skip-verify: true
        part-size: 8MiB
        concurrency: 4
        storage-class: STANDARD_IA
        sign-payload: false
        require-content-md5: false
        sync-interval: 1s
      - type: abs
        account-key: replicaAccountKey==
        sas-token: "?sv=2024&sig=replicaSasSignature"
        bucket: container1
        path: app
        endpoint: http://127.0.0.1:10000/devstoreaccount1
      - path: ./local-backup
  - dir: /data/tenants
    pattern: "*.db"
    recursive: yes
    watch: on
    replica:
      url: file:///backups/tenants
`;

Deno.test("parseConfig() reads every key of a full config", () => {
  const c = parse(FULL);
  assert.equal(c.path, "/etc/walship.yml");
  assert.equal(c.addr, "127.0.0.1:9090");
  assert.equal(c.exec, "myapp --serve");
  assert.deepEqual(c.logging, { level: "debug", type: "json", stderr: true });
  assert.deepEqual(c.schedule, {
    levelIntervalsMs: [10_000, 120_000],
    snapshotIntervalMs: 12 * 3600_000,
    retentionCheckIntervalMs: 30_000,
    retentionEnabled: false,
    retention: {
      snapshotRetentionMs: 72 * 3600_000,
      l0RetentionMs: 600_000,
      keep: { last: 3, hourly: 24, daily: 7, weekly: 4, monthly: 6 },
    },
  });
  assert.equal(c.shutdownSyncTimeoutMs, 60_000);
  assert.equal(c.shutdownSyncIntervalMs, 250);
  const [app, tenants] = c.dbs;
  assert.deepEqual({ ...app, replicas: undefined }, {
    path: "/data/app.db",
    metaPath: "/home/ops/state/app",
    recursive: false,
    watch: false,
    monitorIntervalMs: 250,
    checkpointIntervalMs: 0,
    busyTimeoutMs: 5000,
    minCheckpointPageCount: 500,
    truncatePageCount: 200000,
    maxSyncWalBytes: 16 * 1024 * 1024,
    restoreIfDbNotExists: true,
    replicas: undefined,
  });
  assert.deepEqual(app!.replicas, [
    {
      name: "primary",
      syncIntervalMs: 1000,
      spec: {
        type: "s3",
        bucket: "backups",
        path: "app",
        region: "eu-west-1",
        endpoint: "http://127.0.0.1:9000",
        forcePathStyle: false,
        skipVerify: true,
        partSize: 8 * 1024 * 1024,
        concurrency: 4,
        storageClass: "STANDARD_IA",
        signPayload: false,
        requireContentMd5: false,
        accessKeyId: "AKIAGLOBALEXAMPLE1",
        secretAccessKey: "globalSecretExampleKey1",
      },
    },
    {
      name: "abs",
      syncIntervalMs: 5000,
      spec: {
        type: "abs",
        accountName: "globalacct",
        accountKey: "replicaAccountKey==",
        sasToken: "sv=2024&sig=replicaSasSignature",
        container: "container1",
        path: "app",
        endpoint: "http://127.0.0.1:10000/devstoreaccount1",
        maxConnections: 7,
      },
    },
    { name: "file", syncIntervalMs: 5000, spec: { type: "file", path: resolve("local-backup") } },
  ]);
  assert.equal(tenants!.path, undefined);
  assert.equal(tenants!.dir, "/data/tenants");
  assert.equal(tenants!.pattern, "*.db");
  assert.equal(tenants!.recursive, true);
  assert.equal(tenants!.watch, true);
  assert.deepEqual(tenants!.replicas, [
    { name: "file", syncIntervalMs: 5000, spec: { type: "file", path: "/backups/tenants" } },
  ]);
});

Deno.test("parseConfig() fills Litestream's defaults", () => {
  const c = parse("dbs:\n  - path: /data/app.db\n    replica:\n      path: /backups/app\n");
  assert.deepEqual(c.logging, { level: "info", type: "text", stderr: false });
  assert.deepEqual(c.schedule.levelIntervalsMs, [30_000, 300_000, 3600_000]);
  assert.equal(c.schedule.snapshotIntervalMs, 86400_000);
  assert.deepEqual(c.schedule.retention, {
    snapshotRetentionMs: 86400_000,
    l0RetentionMs: 300_000,
    keep: {},
  });
  assert.equal(c.schedule.retentionCheckIntervalMs, 15_000);
  assert.equal(c.schedule.retentionEnabled, true);
  assert.equal(c.shutdownSyncTimeoutMs, 30_000);
  assert.equal(c.shutdownSyncIntervalMs, 500);
  assert.equal(c.addr, undefined);
  assert.equal(c.exec, undefined);
  const db = c.dbs[0]!;
  assert.equal(db.monitorIntervalMs, 1000);
  assert.equal(db.checkpointIntervalMs, 60_000);
  assert.equal(db.busyTimeoutMs, 1000);
  assert.equal(db.minCheckpointPageCount, 1000);
  assert.equal(db.truncatePageCount, 121359);
  assert.equal(db.maxSyncWalBytes, 64 * 1024 * 1024);
  assert.equal(db.restoreIfDbNotExists, false);
  assert.equal(db.metaPath, undefined);
  assert.deepEqual(db.replicas, [{
    name: "file",
    syncIntervalMs: 1000,
    spec: { type: "file", path: "/backups/app" },
  }]);
  assert.deepEqual(parse("").dbs, []);
});

Deno.test("parseConfig() reads the seed examples from Litestream's guides", () => {
  const url = parse("dbs:\n  - path: /data/app.db\n    replica:\n      url: s3://bucket/app\n");
  assert.deepEqual(url.dbs[0]!.replicas[0]!.spec, {
    type: "s3",
    bucket: "bucket",
    path: "app",
    forcePathStyle: false,
    skipVerify: false,
    signPayload: true,
    requireContentMd5: true,
  });

  const expanded = parse(`
access-key-id: AKIAIOSFODNN7EXAMPLE
secret-access-key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
dbs:
  - path: /data/app.db
    replica:
      type: s3
      bucket: mybucket
      path: app
      endpoint: https://s3.example.com
      force-path-style: true
      region: us-west-2
`).dbs[0]!.replicas[0]!.spec;
  assert.deepEqual(expanded, {
    type: "s3",
    bucket: "mybucket",
    path: "app",
    region: "us-west-2",
    endpoint: "https://s3.example.com",
    forcePathStyle: true,
    skipVerify: false,
    signPayload: true,
    requireContentMd5: true,
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  });

  const abs = parse(`
dbs:
  - path: /data/app.db
    replica:
      type: abs
      account-name: myaccount
      bucket: mycontainer
      path: app
`).dbs[0]!.replicas[0]!.spec;
  assert.deepEqual(abs, {
    type: "abs",
    accountName: "myaccount",
    container: "mycontainer",
    path: "app",
    maxConnections: 5,
  });

  const list = parse(`
dbs:
  - path: /data/app.db
    replicas:
      - url: s3://bucket-a/app
        endpoint: http://127.0.0.1:9000
        force-path-style: true
      - url: abs://acct@container-b/app
`).dbs[0]!.replicas;
  assert.deepEqual(list.map((r) => [r.name, r.spec.type]), [["s3", "s3"], ["abs", "abs"]]);
  assert.equal(list[0]!.spec.type === "s3" && list[0]!.spec.endpoint, "http://127.0.0.1:9000");
  assert.equal(list[0]!.spec.type === "s3" && list[0]!.spec.forcePathStyle, true);
  assert.equal(list[1]!.spec.type === "abs" && list[1]!.spec.accountName, "acct");
});

Deno.test("parseConfig() applies global replica keys only where the replica leaves them unset", () => {
  const c = parse(`
bucket: global-bucket
sync-interval: 10s
access-key-id: GLOBALKEYID
secret-access-key: globalSecretValue
dbs:
  - path: /a.db
    replicas:
      - type: s3
        path: a
      - url: s3://own-bucket/a
        sync-interval: 2s
        access-key-id: OWNKEYID
        secret-access-key: ownSecretValue
      - path: /backups/a
`);
  const [first, second, file] = c.dbs[0]!.replicas;
  assert.equal(first!.name, "s3-1");
  assert.equal(second!.name, "s3-2");
  assert.equal(first!.syncIntervalMs, 10_000);
  assert.equal(second!.syncIntervalMs, 2000);
  assert.equal(file!.syncIntervalMs, 10_000);
  assert.ok(first!.spec.type === "s3" && second!.spec.type === "s3");
  assert.equal(first!.spec.bucket, "global-bucket");
  assert.equal(first!.spec.accessKeyId, "GLOBALKEYID");
  // A replica with a url keeps its URL's bucket, and its own credentials win.
  assert.equal(second!.spec.bucket, "own-bucket");
  assert.equal(second!.spec.accessKeyId, "OWNKEYID");
  assert.equal(second!.spec.secretAccessKey, "ownSecretValue");
});

Deno.test("parseConfig() expands $VAR and ${VAR} like Go's os.Expand, unless expandEnv is false", () => {
  const text =
    "dbs:\n  - path: /data/${BUCKET}-$BUCKET${UNSET}$EMPTY.db\n    replica:\n      url: s3://$BUCKET/x\n";
  const c = parse(text);
  assert.equal(c.dbs[0]!.path, "/data/env-bucket-env-bucket.db");
  assert.equal(c.dbs[0]!.replicas[0]!.spec.type === "s3" && c.dbs[0]!.replicas[0]!.spec.bucket, "env-bucket");
  // Comments are expanded too (harmless), and $PID is the process id, as in Litestream v0.5.8+.
  assert.equal(
    parse("# $UNSET\ndbs:\n  - path: /d/$PID.db\n    replica: {path: /b}\n").dbs[0]!.path,
    `/d/${Deno.pid}.db`,
  );

  const literal = parse(
    "dbs:\n  - path: /data/$BUCKET.db\n    replica:\n      path: /b/${BUCKET}\n",
    ENV,
    false,
  );
  assert.equal(literal.dbs[0]!.path, "/data/$BUCKET.db");
  assert.deepEqual(literal.dbs[0]!.replicas[0]!.spec, { type: "file", path: "/b/${BUCKET}" });
});

Deno.test("parseConfig() normalises database paths: sqlite:// stripped, ~ expanded, relative made absolute", () => {
  const c = parse(`
dbs:
  - path: sqlite3://~/app.db
    replica: {path: ~/backup}
  - path: data/rel.db
    meta-path: state
    replica: {path: b}
`);
  assert.equal(c.dbs[0]!.path, "/home/ops/app.db");
  assert.deepEqual(c.dbs[0]!.replicas[0]!.spec, { type: "file", path: "/home/ops/backup" });
  assert.equal(c.dbs[1]!.path, resolve("data/rel.db"));
  assert.equal(c.dbs[1]!.metaPath, resolve("state"));
});

Deno.test("parseConfig() reads YAML 1.1 as Litestream does: yes/on booleans, text as written, anchors and <<", () => {
  const anchored = parse(`
dbs:
  - path: /a.db
    restore-if-db-not-exists: yes
    replica: &s3
      type: s3
      bucket: shared
      region: no
      path: a
  - path: /b.db
    replica:
      <<: *s3
      path: b
      force-path-style: on
`);
  const [a, b] = anchored.dbs;
  assert.equal(a!.restoreIfDbNotExists, true);
  assert.ok(a!.replicas[0]!.spec.type === "s3" && b!.replicas[0]!.spec.type === "s3");
  assert.equal(a!.replicas[0]!.spec.region, "no");
  assert.equal(b!.replicas[0]!.spec.bucket, "shared");
  assert.equal(b!.replicas[0]!.spec.path, "b");
  assert.equal(b!.replicas[0]!.spec.forcePathStyle, true);
});

Deno.test("redactedConfig() hides every credential and keeps the rest", () => {
  const c = parse(FULL);
  const dump = JSON.stringify(redactedConfig(c));
  for (
    const secret of [
      "AKIAGLOBALEXAMPLE1",
      "globalSecretExampleKey1",
      "globalAccountKeyExample==",
      "replicaAccountKey==",
      "replicaSasSignature",
    ]
  ) {
    assert.ok(!dump.includes(secret), `${secret} in ${dump}`);
  }
  assert.ok(dump.includes('"secretAccessKey":"REDACTED"'));
  assert.ok(dump.includes('"bucket":"backups"'));
  // The original is untouched.
  assert.equal(
    c.dbs[0]!.replicas[0]!.spec.type === "s3" && c.dbs[0]!.replicas[0]!.spec.secretAccessKey,
    "globalSecretExampleKey1",
  );
});

Deno.test("findDatabase() finds a database by path, or the directory entry that holds it", () => {
  const c = parse(`
dbs:
  - path: /data/app.db
    replica: {path: /b/app}
  - dir: /data/tenants
    pattern: "t-*.db"
    replica: {path: /b/tenants}
  - dir: /data/deep
    pattern: "*.sqlite"
    recursive: true
    replica: {path: /b/deep}
`);
  assert.equal(findDatabase(c, "/data/app.db"), c.dbs[0]);
  assert.equal(findDatabase(c, "sqlite:///data/./app.db"), c.dbs[0]);
  assert.equal(findDatabase(c, "/data/tenants/t-1.db"), c.dbs[1]);
  assert.equal(findDatabase(c, "/data/tenants/other.db"), undefined);
  assert.equal(findDatabase(c, "/data/tenants/sub/t-1.db"), undefined); // not recursive
  assert.equal(findDatabase(c, "/data/deep/a/b/x.sqlite"), c.dbs[2]);
  assert.equal(findDatabase(c, "/data/other.db"), undefined);
});

Deno.test("loadConfig() reads a file; a missing file names its path and how to give another", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/walship.yml`;
    await Deno.writeTextFile(file, "dbs:\n  - path: /data/$NAME.db\n    replica: {url: file:///b}\n");
    const env = { NAME: "app", WALSHIP_CONFIG: file };
    const c = await loadConfig(file, { env });
    assert.equal(c.path, file);
    assert.equal(c.dbs[0]!.path, "/data/app.db");
    assert.equal((await loadConfig(undefined, { env })).path, file);
    assert.equal((await loadConfig(file, { env, expandEnv: false })).dbs[0]!.path, "/data/$NAME.db");

    await assert.rejects(() => loadConfig(`${dir}/missing.yml`, { env }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, `Config file "${dir}/missing.yml" not found`);
      assert.match(err.hint ?? "", /-config PATH.*WALSHIP_CONFIG/);
      return true;
    });
    await assert.rejects(() => loadConfig(dir, { env }), /is a directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defaultConfigPath() prefers WALSHIP_CONFIG, then LITESTREAM_CONFIG, then /etc/walship.yml", () => {
  assert.equal(defaultConfigPath({ WALSHIP_CONFIG: "/a.yml", LITESTREAM_CONFIG: "/b.yml" }), "/a.yml");
  assert.equal(defaultConfigPath({ LITESTREAM_CONFIG: "/b.yml" }), "/b.yml");
  assert.equal(defaultConfigPath({}), DEFAULT_CONFIG_PATH);
  assert.equal(DEFAULT_CONFIG_PATH, "/etc/walship.yml");
});
