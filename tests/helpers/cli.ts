/** Runs walship as a user would: a real child process of `main.ts` with the shipped permissions. */
import { join } from "node:path";

const MAIN = join(new URL("../..", import.meta.url).pathname, "main.ts");
/** As the shipped task: a small young generation keeps the resident set ~30 MiB lower at no lag cost. */
const V8_FLAGS = ["--v8-flags=--max-semi-space-size=2"];
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-net=127.0.0.1",
];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno` arguments that run walship's main.ts with `args`, as the shipped task does (net: loopback only). */
export function walshipArgs(args: string[]): string[] {
  return ["run", "--quiet", ...V8_FLAGS, ...PERMISSIONS, MAIN, ...args];
}

export function walshipCommand(
  args: string[],
  env: Record<string, string> = {},
  output: "piped" | "null" = "piped",
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: walshipArgs(args),
    env: { AWS_EC2_METADATA_DISABLED: "true", NO_COLOR: "1", ...env },
    stdout: output,
    stderr: output,
  });
}

/** Runs walship to completion. */
export async function runWalship(args: string[], env?: Record<string, string>): Promise<RunResult> {
  const out = await walshipCommand(args, env).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A long-running walship whose output is collected until it exits. */
export class WalshipProcess {
  readonly child: Deno.ChildProcess;
  #output: Promise<RunResult>;
  constructor(args: string[], env?: Record<string, string>) {
    this.child = walshipCommand(args, env).spawn();
    this.#output = this.child.output().then((o) => ({
      code: o.code,
      stdout: new TextDecoder().decode(o.stdout),
      stderr: new TextDecoder().decode(o.stderr),
    }));
  }
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // already exited
    }
  }
  finished(): Promise<RunResult> {
    return this.#output;
  }
  /** Sends `signal` and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<RunResult> {
    this.kill(signal);
    return await this.#output;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `check` is true, polling, or fails after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
