/**
 * Shell patterns for directory mode (`pattern: "*.db"`), with Go's `filepath.Match` syntax as Litestream
 * uses it on file base names: `*`, `?`, `[a-z]`, `[^0-9]`, and `\` to escape.
 */

/** Compiles `pattern`; throws SyntaxError for a malformed one (unclosed `[`, empty class, trailing `\`). */
export function compileGlob(pattern: string): RegExp {
  const chars = [...pattern]; // code points: "?" matches one character, as in Go
  let source = "";
  let i = 0;
  const escapedChar = (): string => {
    let c = chars[i];
    if (c === "\\") c = chars[++i];
    if (c === undefined) {
      throw new SyntaxError(`Invalid pattern "${pattern}": it ends inside an escape or [class]`);
    }
    i++;
    return escapeRegExp(c);
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === "*") source += "[^/]*", i++;
    else if (c === "?") source += "[^/]", i++;
    else if (c === "[") {
      i++;
      let cls = "[";
      if (chars[i] === "^") cls += "^", i++;
      let ranges = 0;
      while (chars[i] !== "]" || ranges === 0) {
        if (chars[i] === "-" || chars[i] === "]" || chars[i] === undefined) {
          throw new SyntaxError(`Invalid pattern "${pattern}": malformed [class]`);
        }
        cls += escapedChar();
        if (chars[i] === "-") {
          i++;
          cls += "-" + escapedChar();
        }
        ranges++;
      }
      i++;
      source += cls + "]";
    } else source += escapedChar();
  }
  return new RegExp(`^${source}$`, "u");
}

/** Whether a file's base name matches `pattern` (see compileGlob). */
export function matchGlob(pattern: string, name: string): boolean {
  return compileGlob(pattern).test(name);
}

/** Any character but a letter or digit as `\u{…}`, which means the character itself anywhere in a u-mode RegExp. */
function escapeRegExp(c: string): string {
  return /^[\p{L}\p{N}]$/u.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`;
}
