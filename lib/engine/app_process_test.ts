import assert from "node:assert/strict";
import { UsageError } from "../util/errors.ts";
import { splitCommandLine, startApp } from "./app_process.ts";

Deno.test("splitCommandLine() splits words as a shell does, with quotes and escapes but no expansion", () => {
  assert.deepEqual(splitCommandLine("  myapp   --port 8080 "), ["myapp", "--port", "8080"]);
  assert.deepEqual(splitCommandLine(`app 'a b' "c \\"d\\" $HOME" e\\ f ''`), [
    "app",
    "a b",
    'c "d" $HOME',
    "e f",
    "",
  ]);
  assert.deepEqual(splitCommandLine(`x "a'b" 'c"d' "back\\slash"`), ["x", "a'b", 'c"d', "back\\slash"]);
  assert.deepEqual(splitCommandLine(""), []);
  assert.throws(() => splitCommandLine(`app "unclosed`), UsageError);
});

Deno.test("startApp() reports the exit code, and a missing program in one line", async () => {
  const app = startApp(`${Deno.execPath()} eval "Deno.exit(7)"`);
  assert.equal(await app.exited, 7);
  app.kill("SIGTERM"); // after exit: ignored
  assert.throws(
    () => startApp("/nonexistent/walship-test-app --flag"),
    /Cannot start the -exec command "\/nonexistent\/walship-test-app": command not found/,
  );
  assert.throws(() => startApp("   "), /empty/);
});
