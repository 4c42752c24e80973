/** The one-shot commands driven by a config file: snapshot, ltx and restore by database path. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runWalship } from "./helpers/cli.ts";
import { dumpDigest } from "./helpers/sqlite_dump.ts";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "walship-config-cli-" });
  const dbPath = join(dir, "app.db");
  const db = new DatabaseSync(dbPath);
  db.exec("PRAGMA journal_mode = wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  for (let i = 0; i < 50; i++) db.prepare("INSERT INTO t(v) VALUES (?)").run(`value ${i}`);
  db.close();
  const config = join(dir, "walship.yml");
  await Deno.writeTextFile(
    config,
    `snapshot:
  retention: 1h
  keep-daily: 7
dbs:
  - path: ${dbPath}
    replicas:
      - name: primary
        url: file://${join(dir, "primary")}
      - name: second
        type: file
        path: ${join(dir, "second")}
`,
  );
  return { dir, dbPath, config };
}

Deno.test("snapshot -config, ltx DB_PATH, restore DB_PATH (-replica, into the database path)", async () => {
  const { dir, dbPath, config } = await setup();
  const snap = await runWalship(["snapshot", "-config", config, "-enforce-retention"]);
  assert.equal(snap.code, 0, snap.stderr);
  assert.equal(snap.stdout.trim().split("\n").length, 2, "one line per replica");
  const ls = await runWalship([
    "ltx",
    "-config",
    config,
    "-replica",
    "second",
    "-level",
    "9",
    "-json",
    dbPath,
  ]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(JSON.parse(ls.stdout).length, 1);

  const out = join(dir, "out.db");
  const restored = await runWalship(["restore", "-config", config, "-replica", "second", "-o", out, dbPath]);
  assert.equal(restored.code, 0, restored.stderr);
  const expected = dumpDigest(dbPath).digest;
  assert.equal(dumpDigest(out).digest, expected);

  // Without -o the database path itself is the output: refused while it exists, restored once it is gone.
  const exists = await runWalship(["restore", "-config", config, dbPath]);
  assert.equal(exists.code, 1);
  assert.match(exists.stderr, /^error: Output database ".*app\.db" already exists\n/);
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(dbPath + suffix).catch(() => {});
  const back = await runWalship(["restore", "-config", config, dbPath]);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(dumpDigest(dbPath).digest, expected);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("config-mode errors are one line: unknown database, unknown replica, missing file", async () => {
  const { dir, config } = await setup();
  const unknown = await runWalship([
    "restore",
    "-config",
    config,
    "-o",
    join(dir, "x.db"),
    join(dir, "other.db"),
  ]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: Database ".*other\.db" is not in the config file .*walship\.yml\n/);
  const replica = await runWalship(["ltx", "-config", config, "-replica", "nope", join(dir, "app.db")]);
  assert.equal(replica.code, 2);
  assert.match(
    replica.stderr,
    /^error: Database ".*app\.db" has no replica named "nope"\nhint: its replicas: primary, second\n$/,
  );
  const missing = await runWalship(["snapshot", "-config", join(dir, "missing.yml")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: .*missing\.yml/);
  assert.equal(missing.stderr.trim().split("\n").length <= 2, true);
  await Deno.remove(dir, { recursive: true });
});
