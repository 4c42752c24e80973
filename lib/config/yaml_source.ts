/**
 * A YAML document read through its syntax tree, so that every value knows its line and its place
 * (`dbs[0].replica.sync-interval`) and every error can name both. Typed readers here follow yaml.v2 as
 * Litestream uses it: YAML 1.1 booleans (`yes`, `on`), text keys that accept any scalar as written, null
 * meaning "not set", aliases and `<<` merge keys.
 */
import type { LineCounter, Node, Pair } from "yaml";
import { UsageError } from "../util/errors.ts";
import { parseDuration } from "../util/duration.ts";

type Yaml = typeof import("yaml");
type Document = ReturnType<Yaml["parseDocument"]>;

/** The YAML library once loaded: it adds ~8 MiB resident at start-up, so only a config file loads it. */
let yaml!: Yaml;

/** Loads the YAML parser; `parseYaml` (and so `parseConfig`) needs it. */
export async function loadYaml(): Promise<void> {
  yaml ??= await import("yaml");
}

const TAG_WARNINGS = ["TAG_RESOLVE_FAILED", "BAD_COLLECTION_TYPE"];

/** A configuration error at a line: `config line 12: …`. */
export function configError(line: number, message: string, hint?: string): UsageError {
  return new UsageError(`config line ${line}: ${message}`, hint === undefined ? {} : { hint });
}

/** Parses YAML text into its root value; syntax errors name the line (never the text, which may hold secrets). */
export function parseYaml(text: string): ConfigValue {
  if (yaml === undefined) throw new Error("YAML parser not loaded: await loadYaml() first");
  const lines = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { version: "1.1", lineCounter: lines, prettyErrors: false });
  // An unknown !tag is only a warning to the parser, but would silently turn a value into plain text.
  const first = doc.errors[0] ?? doc.warnings.find((w) => TAG_WARNINGS.includes(w.code));
  if (first) {
    const line = first.linePos?.[0].line ?? lineAt(lines, first.pos[0]);
    // Only the parser's words: its source excerpt and anything after a colon may quote a secret.
    const message = first.message.replace(/ at line \d+, column \d+[\s\S]*$/, "").replace(/:[\s\S]*$/, "");
    throw configError(line, `invalid YAML: ${message}`, "check the indentation and quoting on that line");
  }
  return new ConfigValue(doc.contents, { doc, lines }, "", 1);
}

interface Source {
  doc: Document;
  lines: LineCounter;
}

function lineAt(lines: LineCounter, offset: number): number {
  return lines.linePos(offset).line;
}

function nodeLine(source: Source, node: Node | null, fallback: number): number {
  return node?.range ? lineAt(source.lines, node.range[0]) : fallback;
}

/** One value in the document with its place (`where`) and line. */
export class ConfigValue {
  readonly where: string;
  readonly line: number;
  #node: Node | null;
  #source: Source;

  constructor(node: unknown, source: Source, where: string, line: number) {
    let resolved = (node ?? null) as Node | null;
    // An alias reads as the node it points to, but keeps the line where it is used.
    for (let depth = 0; resolved && yaml.isAlias(resolved); depth++) {
      const target = resolved.resolve(source.doc) as Node | undefined;
      if (!target || depth > 100) {
        throw configError(
          line,
          `${where} refers to an unknown anchor`,
          "quote values that start with *, & or !",
        );
      }
      resolved = target;
    }
    this.#node = resolved;
    this.#source = source;
    this.where = where;
    this.line = line;
  }

  /** Absent, empty (`key:`) or `null`: the key counts as not set. */
  get isNull(): boolean {
    return this.#node === null || (yaml.isScalar(this.#node) && this.#node.value === null);
  }

  map(): ConfigMap {
    if (yaml.isMap(this.#node)) {
      return new ConfigMap(this.#node.items as Pair[], this.#source, this.where, this.line);
    }
    if (this.isNull) return new ConfigMap([], this.#source, this.where, this.line);
    throw this.#typeError("a mapping of keys");
  }

  list(): ConfigValue[] {
    if (this.isNull) return [];
    if (!yaml.isSeq(this.#node)) throw this.#typeError('a list (items starting with "- ")');
    return this.#node.items.map((item, i) =>
      new ConfigValue(
        item,
        this.#source,
        `${this.where}[${i}]`,
        nodeLine(this.#source, item as Node, this.line),
      )
    );
  }

  /** Any scalar as text, as written (`bucket: 2024` is "2024", `region: no` is "no"). */
  string(): string {
    if (!yaml.isScalar(this.#node)) throw this.#typeError("text");
    const { value, source } = this.#node;
    return typeof value === "string" ? value : String(source ?? value);
  }

  bool(): boolean {
    if (yaml.isScalar(this.#node) && typeof this.#node.value === "boolean") return this.#node.value;
    throw this.#typeError("true or false");
  }

  int(): number {
    const value = yaml.isScalar(this.#node) ? this.#node.value : undefined;
    if (typeof value === "number" && Number.isSafeInteger(value)) return value;
    throw this.#typeError("a whole number");
  }

  /** A Go duration (`500ms`, `1h30m`) in milliseconds; a bare 0 means zero, as in yaml.v2. */
  duration(): number {
    const value = yaml.isScalar(this.#node) ? this.#node.value : undefined;
    if (value === 0) return 0;
    if (typeof value === "string") {
      try {
        return parseDuration(value, this.where);
      } catch {
        // Rethrown below with the line; Go has no "d" unit, a frequent surprise.
      }
    }
    const hint = typeof value === "string" && /^\d+d$/.test(value.trim())
      ? `durations have no "d" unit: write ${Number.parseInt(value) * 24}h`
      : typeof value === "number"
      ? `add a unit: ${value}s, ${value}m or ${value}h`
      : "units are ns, us, ms, s, m and h, e.g. 1s, 5m, 24h or 1h30m";
    throw configError(
      this.line,
      `${this.where} must be a duration such as 1s, 5m or 24h, got ${this.#shown()}`,
      hint,
    );
  }

  /** The plain value for code that takes YAML options: text as written, booleans and numbers as such. */
  plain(): string | number | boolean | null {
    if (this.isNull) return null;
    if (!yaml.isScalar(this.#node)) throw this.#typeError("a single value");
    const value = this.#node.value;
    return typeof value === "boolean" || typeof value === "number" ? value : this.string();
  }

  /** Throws `where must be …, got …`. Only kinds and short non-text scalars are shown, never free text. */
  #typeError(expected: string): UsageError {
    return configError(this.line, `${this.where || "the config"} must be ${expected}, got ${this.#shown()}`);
  }

  #shown(): string {
    const node = this.#node;
    if (yaml.isMap(node)) return "a mapping";
    if (yaml.isSeq(node)) return "a list";
    if (this.isNull) return "nothing";
    const value = yaml.isScalar(node) ? node.value : undefined;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    // Text values are shown only when short and key-like, so a misplaced secret is never echoed.
    return typeof value === "string" && /^[\w .:+-]{1,24}$/.test(value) && !/\d{6}|[A-Z]{6}/.test(value)
      ? `"${value}"`
      : "text";
  }
}

interface Entry {
  keyLine: number;
  value: ConfigValue;
}

/** A mapping: keys in document order, each with its line. `<<` merges keys it does not set itself. */
export class ConfigMap {
  readonly where: string;
  readonly line: number;
  #entries = new Map<string, Entry>();

  constructor(pairs: Pair[], source: Source, where: string, line: number) {
    this.where = where;
    this.line = line;
    const merged: Pair[] = [];
    for (const pair of pairs) {
      const key = pair.key as Node | null;
      if (yaml.isScalar(key) && typeof key.value === "symbol") {
        merged.push(...mergeSources(pair.value, source, where, nodeLine(source, key, line)));
        continue;
      }
      this.#add(pair, source);
    }
    for (const pair of merged) if (!this.#entries.has(keyText(pair))) this.#add(pair, source);
  }

  #add(pair: Pair, source: Source): void {
    const name = keyText(pair);
    const keyLine = nodeLine(source, pair.key as Node | null, this.line);
    const where = this.where === "" ? name : `${this.where}.${name}`;
    this.#entries.set(name, { keyLine, value: new ConfigValue(pair.value, source, where, keyLine) });
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** The value of `key`, or undefined when it is absent or null. */
  get(key: string): ConfigValue | undefined {
    const value = this.#entries.get(key)?.value;
    return value && !value.isNull ? value : undefined;
  }

  /** The line of `key`, or of the mapping when the key is absent. */
  lineOf(key: string): number {
    return this.#entries.get(key)?.keyLine ?? this.line;
  }

  /**
   * Rejects the first key (in document order) that is not `allowed`. Keys listed in `unsupported` get its
   * explanation as the hint; others get the list of allowed keys and a guess at the intended one.
   */
  checkKeys(allowed: readonly string[], unsupported: Readonly<Record<string, string>> = {}): void {
    for (const [key, { keyLine }] of this.#entries) {
      if (allowed.includes(key)) continue;
      const place = this.where === "" ? "at the top level" : `in ${this.where}`;
      const why = unsupported[key];
      if (why !== undefined) {
        throw configError(keyLine, `key "${key}" ${place} is not supported by walship`, why);
      }
      const guess = closest(key, allowed);
      throw configError(
        keyLine,
        `unknown key "${key}" ${place}; expected one of ${allowed.join(", ")}`,
        guess ? `did you mean "${guess}"?` : undefined,
      );
    }
  }
}

function keyText(pair: Pair): string {
  const key = pair.key as Node | null;
  if (yaml.isScalar(key)) {
    return key.source !== undefined && typeof key.value !== "string" ? key.source : String(key.value);
  }
  return String(key);
}

/** The pairs a `<<` key brings in: from one mapping or a list of them, earlier ones first. */
function mergeSources(value: unknown, source: Source, where: string, line: number): Pair[] {
  const node = resolveAlias(value, source);
  const items: unknown[] = yaml.isSeq(node) ? node.items : [node];
  return items.flatMap((item) => {
    const map = resolveAlias(item, source);
    if (yaml.isMap(map)) return map.items as Pair[];
    const place = where === "" ? "<<" : `${where}.<<`;
    throw configError(line, `${place} must merge mappings (written as *anchor)`);
  });
}

function resolveAlias(node: unknown, source: Source): unknown {
  return yaml.isAlias(node) ? node.resolve(source.doc) : node;
}

/** The allowed key within edit distance 2 of `key`, if any. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
