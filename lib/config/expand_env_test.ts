import assert from "node:assert/strict";
import { expandEnv } from "./expand_env.ts";

const ENV: Record<string, string> = {
  A: "alpha",
  B_2: "beta",
  EMPTY: "",
  "1": "one",
  "$": "dollar",
  "X:-d": "odd",
};
const lookup = (name: string) => ENV[name];

Deno.test("expandEnv() follows Go's os.Expand", () => {
  const cases: [string, string][] = [
    ["plain text", "plain text"],
    ["$A and ${A}", "alpha and alpha"],
    ["${B_2}x $B_2x", "betax "], // $B_2x reads the name "B_2x", which is unset
    ["$UNSET|${UNSET}|$EMPTY", "||"],
    ["cost: 5$", "cost: 5$"], // a trailing $ stays
    ["a $ b", "a $ b"], // $ followed by no name stays
    ["$%x", "$%x"],
    ["${}x", "x"], // bad syntax is eaten
    ["${A", "A"], // unterminated: "${" is eaten
    ["$$", "dollar"], // no escape: $$ is the name "$"
    ["$1st", "onest"], // special one-character names
    ["${1}", "one"],
    ["${X:-d}", "odd"], // no defaults syntax: the whole text is the name
    ["p@ss$word", "p@ss"], // why passwords with $ need -no-expand-env
    ["é$A€", "éalpha€"],
  ];
  for (const [input, expected] of cases) assert.equal(expandEnv(input, lookup), expected, input);
});
