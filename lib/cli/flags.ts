/**
 * Go-style flag parsing, as Litestream's guides use it: `-o out.db`, `-o=out.db`, `--o out.db`, booleans
 * as `-flag` or `-flag=false`. Flags come before positional arguments; one after them is a usage error.
 */
import { UsageError } from "../util/errors.ts";

export interface FlagSpec {
  type: "string" | "boolean" | "integer";
  /** Shown in help. */
  description: string;
  /** Value name in help, e.g. PATH. */
  valueName?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]?: S[K]["type"] extends "boolean" ? boolean
    : S[K]["type"] extends "integer" ? number
    : string;
};

export interface ParsedArgs<S extends FlagSpecs> {
  flags: FlagValues<S>;
  positionals: string[];
  help: boolean;
}

const HELP = new Set(["h", "help"]);

export function parseFlags<S extends FlagSpecs>(command: string, specs: S, args: string[]): ParsedArgs<S> {
  const flags: Record<string, string | boolean | number> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (positionals.length > 0 || arg === "-" || !arg.startsWith("-")) {
      const name = flagName(arg);
      if (positionals.length > 0 && name !== null && (name in specs || HELP.has(name))) {
        throw new UsageError(`Flag "-${name}" must come before the arguments of "${command}"`, {
          hint: `write: walship ${command} -${name} ... ${positionals.join(" ")}`,
        });
      }
      positionals.push(arg);
      continue;
    }
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (HELP.has(name)) {
      help = true;
      continue;
    }
    const spec = specs[name];
    if (!spec) {
      throw new UsageError(`Unknown flag "-${name}" for "${command}"`, {
        hint: `see: walship help ${command}`,
      });
    }
    if (spec.type === "boolean") {
      if (inline === undefined) flags[name] = true;
      else if (/^(true|1|t)$/i.test(inline)) flags[name] = true;
      else if (/^(false|0|f)$/i.test(inline)) flags[name] = false;
      else throw new UsageError(`Flag "-${name}" takes true or false, not "${inline}"`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`Flag "-${name}" needs a value`);
      value = args[++i]!;
    }
    if (spec.type === "integer") {
      if (!/^-?\d+$/.test(value)) {
        throw new UsageError(`Flag "-${name}" takes a whole number, not "${value}"`);
      }
      flags[name] = Number(value);
    } else {
      flags[name] = value;
    }
  }
  return { flags: flags as FlagValues<S>, positionals, help };
}

function flagName(arg: string): string | null {
  const m = /^--?([A-Za-z][\w-]*)(=.*)?$/.exec(arg);
  return m ? m[1]! : null;
}

/** Help text for a command's flags, one per line. */
export function formatFlags(specs: FlagSpecs): string {
  return Object.entries(specs).map(([name, spec]) => {
    const left = spec.type === "boolean" ? `  -${name}` : `  -${name} ${spec.valueName ?? "VALUE"}`;
    return `${left.padEnd(30)} ${spec.description}`;
  }).join("\n");
}
