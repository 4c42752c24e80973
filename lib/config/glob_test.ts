import assert from "node:assert/strict";
import { compileGlob, matchGlob } from "./glob.ts";

Deno.test("matchGlob() follows Go's filepath.Match on base names", () => {
  const cases: [string, string, boolean][] = [
    ["*.db", "app.db", true],
    ["*.db", "app.db-wal", false],
    ["*.db", ".db", true],
    ["t-?.sqlite", "t-1.sqlite", true],
    ["t-?.sqlite", "t-12.sqlite", false],
    ["[a-c]*.db", "b.db", true],
    ["[a-c]*.db", "d.db", false],
    ["[^a-c]*.db", "d.db", true],
    ["[^a-c]*.db", "a.db", false],
    ["\\*.db", "*.db", true],
    ["\\*.db", "x.db", false],
    ["a.b(c)+", "a.b(c)+", true],
    ["a.b", "axb", false],
    ["?.db", "é.db", true],
    ["*", "sub/x.db", false],
  ];
  for (const [pattern, name, expected] of cases) {
    assert.equal(matchGlob(pattern, name), expected, `${pattern} ${name}`);
  }
});

Deno.test("compileGlob() rejects malformed patterns", () => {
  for (const bad of ["[", "[]", "[a-", "a\\", "[-a]", "[]a]", "[z-a]"]) {
    assert.throws(() => compileGlob(bad), SyntaxError, bad);
  }
});
