/** walship: continuous SQLite replication to object storage. Routes argv to a command and sets the exit code. */
import { COMMANDS } from "./lib/cli/commands.ts";
import { UsageError, WalshipError } from "./lib/util/errors.ts";

function usage(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`);
  return `walship: continuous SQLite replication to object storage

Usage: walship <command> [flags] [arguments]

Commands:
${lines.join("\n")}
  help         show help for a command

Run "walship help <command>" for its flags.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || ["help", "-h", "-help", "--help"].includes(name)) {
    const topic = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (name === "help" && rest[0] && !topic) return fail(new UsageError(`Unknown command "${rest[0]}"`));
    console.log(topic ? (await topic.load()).usage : usage());
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    return fail(new UsageError(`Unknown command "${name}"`, { hint: "run walship help" }));
  }
  try {
    return await (await entry.load()).run(rest);
  } catch (err) {
    return fail(err);
  }
}

/** One line on stderr (plus a hint line); the stack only with LOG_LEVEL=debug. */
function fail(err: unknown): number {
  const debug = /debug/i.test(Deno.env.get("LOG_LEVEL") ?? "") || Deno.args.includes("-log-level=debug");
  if (err instanceof WalshipError) {
    console.error(`error: ${err.message}`);
    if (err.hint) console.error(`hint: ${err.hint}`);
    if (debug) console.error(err.stack);
    return err instanceof UsageError ? 2 : 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  console.error(`error: ${message.split("\n")[0]}`);
  if (debug && err instanceof Error) console.error(err.stack);
  return 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
