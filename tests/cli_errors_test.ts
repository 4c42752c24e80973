/** Bad input gets one clear line, a non-zero exit, no stack trace, and nothing overwritten. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runWalship } from "./helpers/cli.ts";

function assertOneLineError(stderr: string, pattern: RegExp): void {
  // Log lines (timestamped) may precede it; the failure itself is exactly one "error:" line.
  const lines = stderr.trim().split("\n").filter((l) =>
    !/^\d{4}-\d\d-\d\dT/.test(l) && !l.startsWith("hint:")
  );
  assert.equal(lines.length, 1, `expected one error line, got:\n${stderr}`);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\s+at\s+\S+:\d+:\d+/, "no stack trace");
}

async function makeReplica(dir: string): Promise<string> {
  const dbPath = join(dir, "src.db");
  const db = new DatabaseSync(dbPath);
  db.exec("PRAGMA journal_mode=wal; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);");
  db.close();
  const url = `file://${join(dir, "replica")}`;
  const r = await runWalship(["replicate", "-once", dbPath, url]);
  assert.equal(r.code, 0, r.stderr);
  return url;
}

Deno.test("replicate: a missing database is one line and exit 1", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runWalship(["replicate", "-once", join(dir, "nope.db"), `file://${dir}/r`]);
  assert.equal(r.code, 1);
  assertOneLineError(r.stderr, /does not exist/);
});

Deno.test("replicate: a non-SQLite file is refused and left untouched", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "notes.txt");
  const text = "this is not a database, just some text that is long enough to look like a header\n".repeat(3);
  Deno.writeTextFileSync(path, text);
  const r = await runWalship(["replicate", "-once", path, `file://${dir}/r`]);
  assert.equal(r.code, 1);
  assertOneLineError(r.stderr, /is not a SQLite database/);
  assert.equal(Deno.readTextFileSync(path), text);
});

Deno.test("replicate: an unwritable replica directory fails with one line", async () => {
  const dir = await Deno.makeTempDir();
  const db = new DatabaseSync(join(dir, "a.db"));
  db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
  db.close();
  const blocked = join(dir, "blocked");
  Deno.writeTextFileSync(blocked, "a file where the replica directory should be");
  const r = await runWalship(["replicate", "-once", join(dir, "a.db"), `file://${blocked}/sub`]);
  assert.notEqual(r.code, 0);
  assertOneLineError(r.stderr, /Cannot/);
});

Deno.test("usage errors exit 2: unknown command, unknown flag, flag after arguments, bad txid", async () => {
  const dir = await Deno.makeTempDir();
  for (
    const [args, pattern] of [
      [["frobnicate"], /Unknown command/],
      [["restore", "-bogus", "file:///x"], /Unknown flag "-bogus"/],
      [["restore", "file:///x", "-o", "y.db"], /must come before the arguments/],
      [["restore", "-o", join(dir, "o.db"), "-txid", "12", "file:///x"], /Invalid TXID/],
      [["restore", "-o", join(dir, "o.db"), "-timestamp", "yesterday", "file:///x"], /Invalid -timestamp/],
      [["restore", "-o", join(dir, "o.db"), "s4://bucket/x"], /Unknown replica URL scheme/],
      [["replicate", join(dir, "a.db")], /at least one replica URL/],
    ] as const
  ) {
    const r = await runWalship([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertOneLineError(r.stderr, pattern);
  }
});

Deno.test("restore: an empty replica fails, and -if-replica-exists makes it a no-op", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "out.db");
  const r = await runWalship(["restore", "-o", out, `file://${dir}/empty`]);
  assert.equal(r.code, 1);
  assertOneLineError(r.stderr, /No backup files/);
  const skip = await runWalship(["restore", "-if-replica-exists", "-o", out, `file://${dir}/empty`]);
  assert.equal(skip.code, 0, skip.stderr);
  assert.equal(await Deno.stat(out).catch(() => null), null);
});

Deno.test("restore: refuses to overwrite a database unless -force; -if-db-not-exists skips", async () => {
  const dir = await Deno.makeTempDir();
  const url = await makeReplica(dir);
  const out = join(dir, "out.db");
  Deno.writeTextFileSync(out, "precious");
  const r = await runWalship(["restore", "-o", out, url]);
  assert.equal(r.code, 1);
  assertOneLineError(r.stderr, /already exists/);
  assert.equal(Deno.readTextFileSync(out), "precious");
  assert.equal((await runWalship(["restore", "-if-db-not-exists", "-o", out, url])).code, 0);
  assert.equal(Deno.readTextFileSync(out), "precious");
  const forced = await runWalship(["restore", "-force", "-integrity-check", "full", "-o", out, url]);
  assert.equal(forced.code, 0, forced.stderr);
  const db = new DatabaseSync(out, { readOnly: true });
  assert.equal((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 3);
  db.close();
});

Deno.test("restore: a replica file with one flipped bit is refused, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const url = await makeReplica(dir);
  const levelDir = join(dir, "replica", "ltx", "0");
  const name = [...Deno.readDirSync(levelDir)][0]!.name;
  const bytes = Deno.readFileSync(join(levelDir, name));
  for (const offset of [20, 120, bytes.length - 30, bytes.length - 3]) {
    const damaged = bytes.slice();
    damaged[offset]! ^= 0x10;
    Deno.writeFileSync(join(levelDir, name), damaged);
    const out = join(dir, `out-${offset}.db`);
    const r = await runWalship(["restore", "-o", out, url]);
    assert.equal(r.code, 1, `flip at ${offset} restored anyway`);
    assertOneLineError(r.stderr, new RegExp(name.slice(0, 16)));
    assert.equal(await Deno.stat(out).catch(() => null), null, "no output written");
    assert.equal(await Deno.stat(`${out}.tmp`).catch(() => null), null, "no temp file left");
  }
});

Deno.test("ltx lists levels; dry-run prints the plan and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  const url = await makeReplica(dir);
  const ls = await runWalship(["ltx", "-json", "-level", "all", url]);
  assert.equal(ls.code, 0, ls.stderr);
  const rows = JSON.parse(ls.stdout) as { level: number; min_txid: string }[];
  assert.deepEqual(rows.map((r) => [r.level, r.min_txid]), [[0, "0000000000000001"]]);
  const plan = await runWalship(["restore", "-dry-run", "-json", url]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(JSON.parse(plan.stdout).files.length, 1);
});

Deno.test("replicate -once -force-snapshot ships a full L9 snapshot that restores on its own", async () => {
  const dir = await Deno.makeTempDir();
  const url = await makeReplica(dir);
  const r = await runWalship(["replicate", "-once", "-force-snapshot", join(dir, "src.db"), url]);
  assert.equal(r.code, 0, r.stderr);
  const ls = await runWalship(["ltx", "-json", "-level", "9", url]);
  const rows = JSON.parse(ls.stdout) as { min_txid: string; max_txid: string }[];
  assert.equal(rows.length, 1, ls.stdout);
  assert.equal(rows[0]!.min_txid, "0000000000000001");
  assert.equal(
    [...Deno.readDirSync(join(dir, ".src.db-walship/ltx"))].some((e) =>
      e.name === "9" &&
      [...Deno.readDirSync(join(dir, ".src.db-walship/ltx/9"))].some((f) => f.name.endsWith(".ltx"))
    ),
    false,
    "the local snapshot copy is removed once shipped",
  );
  // Remove L0 so the restore can only come from the snapshot.
  await Deno.remove(join(dir, "replica/ltx/0"), { recursive: true });
  const out = join(dir, "from-snapshot.db");
  const res = await runWalship(["restore", "-integrity-check", "full", "-o", out, url]);
  assert.equal(res.code, 0, res.stderr);
  const db = new DatabaseSync(out, { readOnly: true });
  assert.equal((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 3);
  db.close();
});
