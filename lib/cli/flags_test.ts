import assert from "node:assert/strict";
import { parseFlags } from "./flags.ts";
import { UsageError } from "../util/errors.ts";

const SPECS = {
  o: { type: "string", description: "" },
  force: { type: "boolean", description: "" },
  parallelism: { type: "integer", description: "" },
} as const;

Deno.test("parseFlags() accepts Go spellings: -o x, -o=x, --o x, --o=x", () => {
  for (const args of [["-o", "x"], ["-o=x"], ["--o", "x"], ["--o=x"]]) {
    assert.deepEqual(parseFlags("restore", SPECS, [...args, "file:///r"]).flags.o, "x");
  }
});

Deno.test("parseFlags() reads booleans as -flag and -flag=false", () => {
  assert.equal(parseFlags("c", SPECS, ["-force"]).flags.force, true);
  assert.equal(parseFlags("c", SPECS, ["-force=false"]).flags.force, false);
  assert.throws(() => parseFlags("c", SPECS, ["-force=maybe"]), UsageError);
});

Deno.test("parseFlags() rejects a flag after the positional arguments", () => {
  assert.throws(
    () => parseFlags("restore", SPECS, ["file:///r", "-o", "x"]),
    /must come before the arguments/,
  );
});

Deno.test("parseFlags() rejects unknown flags, missing values and bad integers", () => {
  assert.throws(() => parseFlags("c", SPECS, ["-nope"]), /Unknown flag "-nope"/);
  assert.throws(() => parseFlags("c", SPECS, ["-o"]), /needs a value/);
  assert.throws(() => parseFlags("c", SPECS, ["-parallelism", "x"]), /whole number/);
  assert.equal(parseFlags("c", SPECS, ["-parallelism", "4"]).flags.parallelism, 4);
});

Deno.test("parseFlags() reports -h and --help", () => {
  assert.equal(parseFlags("c", SPECS, ["-h"]).help, true);
  assert.equal(parseFlags("c", SPECS, ["--help"]).help, true);
  assert.deepEqual(parseFlags("c", SPECS, ["--", "-o"]).positionals, ["-o"]);
});
