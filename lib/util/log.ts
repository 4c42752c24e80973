/** Leveled logger writing text or JSON lines to stderr. Callers pass fields; secrets never go in. */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | bigint | boolean | undefined>;

export interface LoggerOptions {
  /** @default "info" */
  level?: LogLevel;
  /** @default "text" */
  format?: LogFormat;
  /** Where lines go. @default stderr */
  write?: (line: string) => void;
}

export function parseLogLevel(text: string): LogLevel | undefined {
  const t = text.trim().toLowerCase();
  if (t === "warning") return "warn";
  if (t === "trace") return "debug";
  return t in RANK ? t as LogLevel : undefined;
}

const encoder = new TextEncoder();
function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  #write: (line: string) => void;
  #context: LogFields;
  constructor(options: LoggerOptions = {}, context: LogFields = {}) {
    this.level = options.level ?? "info";
    this.format = options.format ?? "text";
    this.#write = options.write ?? writeStderr;
    this.#context = context;
  }
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger {
    return new Logger({ level: this.level, format: this.format, write: this.#write }, {
      ...this.#context,
      ...fields,
    });
  }
  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }
  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }
  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const all = { ...this.#context, ...fields };
    const time = new Date().toISOString();
    if (this.format === "json") {
      const record: Record<string, unknown> = { time, level: level.toUpperCase(), msg };
      for (const [k, v] of Object.entries(all)) {
        if (v === undefined) continue;
        // A field named like a record key (e.g. an LTX "level") must not replace it.
        record[k in record ? `field_${k}` : k] = typeof v === "bigint" ? String(v) : v;
      }
      this.#write(JSON.stringify(record));
      return;
    }
    let line = `${time} ${level.toUpperCase()} ${msg}`;
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      const s = String(v);
      line += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
    }
    this.#write(line);
  }
}

/** A logger that drops everything: for tests and library callers that want silence. */
export const silentLogger = new Logger({ level: "error", write: () => {} });
