import assert from "node:assert/strict";
import { UsageError } from "../util/errors.ts";
import { parseConfig } from "./config.ts";
import { loadYaml } from "./yaml_source.ts";

await loadYaml();

const SECRET_ID = "AKIASECRETIDEXAMPLE";
const SECRET_KEY = "topSecretValue/123+abc";
/** Appended to every case: no error may show these. */
const CREDENTIALS = `\naccess-key-id: ${SECRET_ID}\nsecret-access-key: "${SECRET_KEY}"\n`;

function errorOf(text: string, env: Record<string, string> = { HOME: "/home/ops" }): UsageError {
  try {
    parseConfig(text, { path: "/etc/walship.yml", env });
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    return err;
  }
  assert.fail(`no error for:\n${text}`);
}

function assertNoSecret(err: UsageError, secrets: string[]): void {
  for (const s of secrets) {
    assert.ok(!err.message.includes(s), `secret in message: ${err.message}`);
    assert.ok(!(err.hint ?? "").includes(s), `secret in hint: ${err.hint}`);
  }
}

const db = (body: string) => `dbs:\n  - path: /data/app.db\n${body}`;
const FILE_REPLICA = "    replica:\n      path: /backups/app\n";

/** [what, config, line, message pattern (naming the key), hint pattern?] */
const CASES: [string, string, number, RegExp, RegExp?][] = [
  [
    "unknown top-level key",
    "dbs: []\nretension: 24h\n",
    2,
    /unknown key "retension" at the top level; expected one of dbs, addr/,
  ],
  [
    "unknown replica key, with a guess",
    db("    replica:\n      type: s3\n      bucket: b\n      regoin: us-east-1\n"),
    6,
    /unknown key "regoin" in dbs\[0\]\.replica; expected one of .*region/,
    /did you mean "region"/,
  ],
  [
    "unknown database key",
    db("    monitor-intervall: 1s\n" + FILE_REPLICA),
    3,
    /unknown key "monitor-intervall" in dbs\[0\]/,
  ],
  [
    "key of another replica type",
    db("    replica:\n      url: s3://b/p\n      account-name: x\n"),
    5,
    /unknown key "account-name" in dbs\[0\]\.replica/,
  ],
  [
    "Litestream key walship lacks",
    "socket:\n  enabled: true\n",
    1,
    /key "socket" at the top level is not supported/,
    /control socket/,
  ],
  [
    "v0.3 replica retention",
    db("    replica:\n      path: /b\n      retention: 72h\n"),
    5,
    /key "retention" in dbs\[0\]\.replica is not supported/,
    /snapshot\.retention/,
  ],
  [
    "sse keys",
    db("    replica:\n      url: s3://b/p\n      sse-customer-key: abcd\n"),
    5,
    /"sse-customer-key" .* not supported/,
    /encryption/,
  ],
  ["logging.source", "logging:\n  source: true\n", 2, /key "source" in logging is not supported/],
  ["dbs not a list", "dbs:\n  path: /a.db\n", 1, /dbs must be a list/],
  ["database not a mapping", "dbs:\n  - /data/app.db\n", 2, /dbs\[0\] must be a mapping/],
  [
    "replica as a string",
    db("    replica: s3://b/p\n"),
    3,
    /dbs\[0\]\.replica must be a mapping of keys, got text/,
  ],
  [
    "bool of wrong type",
    db("    restore-if-db-not-exists: maybe\n" + FILE_REPLICA),
    3,
    /dbs\[0\]\.restore-if-db-not-exists must be true or false, got "maybe"/,
  ],
  [
    "int of wrong type",
    db("    min-checkpoint-page-count: lots\n" + FILE_REPLICA),
    3,
    /min-checkpoint-page-count must be a whole number, got "lots"/,
  ],
  [
    "int out of range",
    db("    min-checkpoint-page-count: 0\n" + FILE_REPLICA),
    3,
    /min-checkpoint-page-count must be greater than 0/,
  ],
  [
    "bad duration",
    db("    monitor-interval: 5 minutes\n" + FILE_REPLICA),
    3,
    /dbs\[0\]\.monitor-interval must be a duration such as 1s, 5m or 24h, got "5 minutes"/,
  ],
  [
    "duration in days",
    "snapshot:\n  retention: 3d\n",
    2,
    /snapshot\.retention must be a duration/,
    /write 72h/,
  ],
  [
    "duration without unit",
    db("    replica:\n      path: /b\n      sync-interval: 10\n"),
    5,
    /dbs\[0\]\.replica\.sync-interval must be a duration .*got 10/,
    /10s/,
  ],
  ["zero sync interval", "sync-interval: 0s\n" + db(FILE_REPLICA), 1, /sync-interval must be greater than 0/],
  [
    "bad size",
    db("    max-sync-wal-bytes: huge\n" + FILE_REPLICA),
    3,
    /max-sync-wal-bytes must be a number of bytes or a size/,
  ],
  [
    "url with bucket",
    db("    replica:\n      url: s3://b/p\n      bucket: other\n"),
    5,
    /dbs\[0\]\.replica has both url and bucket/,
  ],
  [
    "url with path",
    db("    replica:\n      url: abs://acct@container/p\n      path: other\n"),
    5,
    /dbs\[0\]\.replica has both url and path/,
  ],
  [
    "replica and replicas",
    db(FILE_REPLICA + "    replicas:\n      - path: /c\n"),
    5,
    /dbs\[0\] has both replica and replicas/,
  ],
  ["no replica", db(""), 2, /dbs\[0\] has no replica/, /url:/],
  ["empty replicas", db("    replicas: []\n"), 3, /dbs\[0\] has no replica/],
  [
    "replica with no destination",
    db("    replica:\n      sync-interval: 1s\n"),
    3,
    /dbs\[0\]\.replica names no destination/,
  ],
  [
    "path and dir",
    db("    dir: /data\n    pattern: '*.db'\n" + FILE_REPLICA),
    3,
    /dbs\[0\] has both path and dir/,
  ],
  [
    "neither path nor dir",
    "dbs:\n  - replica:\n      path: /b\n",
    2,
    /dbs\[0\] needs path .* or dir and pattern/,
  ],
  ["dir without pattern", "dbs:\n  - dir: /data\n" + FILE_REPLICA, 2, /dbs\[0\] has dir but no pattern/],
  [
    "bad pattern",
    "dbs:\n  - dir: /data\n    pattern: '[a-'\n" + FILE_REPLICA,
    3,
    /dbs\[0\]\.pattern is not a valid pattern/,
  ],
  ["watch without dir", db("    watch: true\n" + FILE_REPLICA), 3, /dbs\[0\]\.watch works only with dir/],
  [
    "duplicate database",
    db(FILE_REPLICA) + "  - path: /data/./app.db\n" + FILE_REPLICA,
    5,
    /database "\/data\/app\.db" is configured twice \(also on line 2\)/,
  ],
  [
    "shared replica",
    db(FILE_REPLICA) + "  - path: /b.db\n    replicas:\n      - path: /c\n      - url: file:///backups/app\n",
    5,
    /dbs\[1\] replicates to file:\/\/\/backups\/app, as dbs\[0\] does/,
  ],
  [
    "duplicate replica names",
    db("    replicas:\n      - {name: a, path: /b}\n      - {name: a, path: /c}\n"),
    2,
    /dbs\[0\] has two replicas named "a"/,
  ],
  [
    "type and url disagree",
    db("    replica:\n      type: s3\n      url: abs://acct@container/p\n"),
    4,
    /dbs\[0\]\.replica has type "s3" but its url is abs:\/\//,
  ],
  [
    "unsupported type",
    db("    replica:\n      type: gcs\n      bucket: b\n"),
    4,
    /replica type "gcs" in dbs\[0\]\.replica is not supported/,
    /file, s3, abs/,
  ],
  ["unsupported scheme", db("    replica:\n      url: sftp://host/p\n"), 4, /replica type "sftp"/],
  [
    "file path given as URL",
    db("    replica:\n      path: s3://b/p\n"),
    4,
    /dbs\[0\]\.replica\.path is a URL/,
    /url:/,
  ],
  [
    "S3 reader error gets its key's line",
    db("    replica:\n      url: s3://b/p\n      part-size: 1MB\n"),
    5,
    /invalid part-size "1MB" in dbs\[0\]\.replica/,
  ],
  [
    "ABS reader error",
    db("    replica:\n      type: abs\n      path: p\n"),
    3,
    /dbs\[0\]\.replica names no container/,
  ],
  ["too many levels", "levels:\n" + "  - interval: 1m\n".repeat(9), 10, /levels has 9 entries; at most 8/],
  ["level without interval", "levels:\n  - {}\n", 2, /levels\[0\] needs an interval/],
  ["zero level interval", "levels:\n  - interval: 0\n", 2, /levels\[0\]\.interval must be greater than 0/],
  ["negative keep rule", "snapshot:\n  keep-daily: -1\n", 2, /snapshot\.keep-daily must be 0 or more/],
  [
    "databases disagree on snapshots",
    db(FILE_REPLICA + "    snapshot: {interval: 1h}\n") +
    "  - path: /b.db\n    replica: {path: /b}\n    snapshot: {interval: 2h}\n",
    8,
    /dbs\[1\]\.snapshot\.interval differs from dbs\[0\]\.snapshot\.interval on line 5/,
  ],
  ["bad log level", "logging:\n  level: loud\n", 2, /logging\.level must be debug, info, warn or error/],
  ["bad log type", "logging:\n  type: xml\n", 2, /logging\.type must be text or json/],
  ["bad addr", "addr: 9090\n", 1, /addr must be HOST:PORT or :PORT, got "9090"/],
  [
    "zero shutdown-sync-interval",
    "shutdown-sync-interval: 0\n",
    1,
    /shutdown-sync-interval must be greater than 0/,
  ],
  ["global key of wrong type", "concurrency: many\n", 1, /concurrency must be a whole number/],
  ["YAML syntax", "dbs:\n  - path: /a.db\n   replica: x\n", 3, /invalid YAML: /],
  ["duplicate key", "addr: :1\naddr: :2\n", 2, /invalid YAML: Map keys must be unique/],
];

for (const [what, text, line, message, hint] of CASES) {
  Deno.test(`parseConfig() error names the key and line: ${what}`, () => {
    const err = errorOf(text + CREDENTIALS);
    assert.ok(err.message.startsWith(`config line ${line}: `), err.message);
    assert.match(err.message, message);
    assert.ok(!err.message.includes("\n"), "one line");
    if (hint) assert.match(err.hint ?? "", hint);
    assertNoSecret(err, [SECRET_ID, SECRET_KEY]);
  });
}

Deno.test("parseConfig() needs a mapping at the top", () => {
  assert.match(
    errorOf("- path: /a.db\n").message,
    /^config line 1: the config must be a mapping of keys, got a list$/,
  );
});

Deno.test("parseConfig() errors never show a credential, wherever it was written", () => {
  const env = { HOME: "/h", SECRET: "envSecretValue99" };
  const cases = [
    // YAML syntax errors on the credential's own line (the parser's message quotes the source).
    `secret-access-key: "${SECRET_KEY}\nbad: [\n`,
    `dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      secret-access-key: ${SECRET_KEY}: x\n`,
    // A credential given without its partner, from the environment, or where the type is wrong.
    `dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      secret-access-key: \${SECRET}\n`,
    `dbs:\n  - path: /a.db\n    replica:\n      type: abs\n      bucket: container\n      sas-token: ${SECRET_KEY}\n      endpoint: "http://h/?sig=${SECRET_KEY}"\n`,
    `dbs:\n  - path: /a.db\n    replica:\n      type: abs\n      bucket: container\n      account-key: ${SECRET_KEY}\n      account-name: "Bad Name"\n`,
    `secret-access-key: ${SECRET_KEY}\nsync-interval: ${SECRET_KEY}\n`,
    // YAML indicators at the start of a credential: an alias, a tag.
    `secret-access-key: *${SECRET_KEY}\n`,
    `secret-access-key: !${SECRET_KEY} x\n`,
    `secret-access-key: ${SECRET_KEY}\ndbs:\n  - path: /a.db\n    replica: ${SECRET_KEY}\n`,
  ];
  for (const text of cases) {
    const err = errorOf(text, env);
    assert.match(err.message, /^config line \d+: /);
    assertNoSecret(err, [SECRET_KEY, "envSecretValue99"]);
  }
});
