/**
 * `$VAR` and `${VAR}` expansion with Go's `os.Expand` semantics, as Litestream applies it to the whole config
 * text, so a config written for Litestream expands the same way here.
 */

/** Go's special one-character names: `$1`, `$$`, `$?`… expand that single character as a name. */
const SPECIAL = new Set([
  "*",
  "#",
  "$",
  "@",
  "!",
  "?",
  "-",
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9",
]);
const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * Replaces `$NAME` and `${NAME}` with `lookup(NAME)`; an unset name (undefined) becomes "". As in Go there is
 * no escape: `$$` expands the name "$"; `${}` and an unterminated `${` are dropped; a `$` followed by no
 * name, or at the very end, stays.
 */
export function expandEnv(text: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  let copiedUpTo = 0;
  for (let j = 0; j < text.length - 1; j++) {
    if (text[j] !== "$") continue;
    out += text.slice(copiedUpTo, j);
    const { name, width } = shellName(text.slice(j + 1));
    if (name === "" && width === 0) out += "$"; // no name follows: keep the dollar
    else if (name !== "") out += lookup(name) ?? ""; // (name "" with width > 0 is bad syntax: eaten)
    j += width;
    copiedUpTo = j + 1;
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

/** The name after a `$` and how many characters it spans (Go's getShellName). */
function shellName(s: string): { name: string; width: number } {
  if (s[0] === "{") {
    if (s.length > 2 && SPECIAL.has(s[1]!) && s[2] === "}") return { name: s[1]!, width: 3 };
    const close = s.indexOf("}", 1);
    if (close === 1) return { name: "", width: 2 }; // "${}"
    if (close < 0) return { name: "", width: 1 }; // unterminated "${"
    return { name: s.slice(1, close), width: close + 1 };
  }
  if (SPECIAL.has(s[0]!)) return { name: s[0]!, width: 1 };
  let i = 0;
  while (i < s.length && NAME_CHAR.test(s[i]!)) i++;
  return { name: s.slice(0, i), width: i };
}
