import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { isIgnoredPath, scanDirectory } from "./directory_scan.ts";

Deno.test("scanDirectory() finds SQLite files matching the pattern, skipping side files, state dirs and non-databases", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-scan-" });
  const make = (path: string) => {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode=wal; CREATE TABLE t(x)");
    db.close();
  };
  await Deno.mkdir(join(dir, "sub/deeper"), { recursive: true });
  await Deno.mkdir(join(dir, ".a.db-walship/ltx/0"), { recursive: true });
  make(join(dir, "a.db"));
  make(join(dir, "b.sqlite"));
  make(join(dir, "sub/c.db"));
  make(join(dir, "sub/deeper/d.db"));
  make(join(dir, ".a.db-walship/ltx/0/e.db"));
  await Deno.writeTextFile(join(dir, "text.db"), "not a database");
  await Deno.writeFile(join(dir, "empty.db"), new Uint8Array());
  await Deno.writeTextFile(join(dir, "a.db-wal"), "x");
  await Deno.copyFile(join(dir, "a.db"), join(dir, "copy.db-journal"));
  await Deno.copyFile(join(dir, "a.db"), join(dir, "restoring.db.tmp"));

  assert.deepEqual(await scanDirectory(dir, { pattern: "*.db" }), [join(dir, "a.db")]);
  assert.deepEqual(await scanDirectory(dir, { pattern: "*.db", recursive: true }), [
    join(dir, "a.db"),
    join(dir, "sub/c.db"),
    join(dir, "sub/deeper/d.db"),
  ]);
  assert.deepEqual(await scanDirectory(dir, { pattern: "*" }), [join(dir, "a.db"), join(dir, "b.sqlite")]);
  await assert.rejects(
    scanDirectory(join(dir, "nope"), { pattern: "*.db" }),
    /Directory ".*nope" does not exist/,
  );
});

Deno.test("isIgnoredPath() drops SQLite side files and walship state", () => {
  for (
    const p of [
      "/d/a.db-wal",
      "/d/a.db-shm",
      "/d/a.db-journal",
      "/d/.a.db-walship",
      "/d/.a.db-walship/ltx/0/x.ltx",
      "/d/a.db.tmp",
    ]
  ) {
    assert.ok(isIgnoredPath(p), p);
  }
  for (const p of ["/d/a.db", "/d/walship/a.db", "/d/a-walship.db"]) assert.ok(!isIgnoredPath(p), p);
});
