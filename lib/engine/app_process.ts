/**
 * `-exec "CMD ARGS"`: the application as a child process. It inherits stdio and the environment; its
 * command line is split into words as a shell would (quotes and backslashes), without expansions.
 */
import { UsageError, WalshipError } from "../util/errors.ts";

/** Splits a command line into words: '…' literal, "…" with \\ escapes, \\ outside quotes escapes one character. */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`Unclosed ${quote} quote in the -exec command "${text}"`);
  if (inWord) words.push(word);
  return words;
}

export interface AppProcess {
  readonly pid: number;
  /** Resolves when the application exits: its exit code (128 + signal number when killed by a signal). */
  readonly exited: Promise<number>;
  /** Forwards a signal; ignored once it has exited. */
  kill(signal: Deno.Signal): void;
}

/** Starts the application; a command that cannot be started is a one-line error. */
export function startApp(commandLine: string): AppProcess {
  const [program, ...args] = splitCommandLine(commandLine);
  if (program === undefined) throw new UsageError("The -exec command is empty");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, { args, stdin: "inherit", stdout: "inherit", stderr: "inherit" })
      .spawn();
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "command not found" : (err as Error).message;
    throw new WalshipError(`Cannot start the -exec command "${program}": ${why}`, { cause: err });
  }
  let done = false;
  const exited = child.status.then((s) => {
    done = true;
    return s.code;
  });
  return {
    pid: child.pid,
    exited,
    kill(signal) {
      if (done) return;
      try {
        child.kill(signal);
      } catch {
        // it exited meanwhile
      }
    },
  };
}
