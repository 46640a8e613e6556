/**
 * The tokenizer for JMS message selectors (JMS 2.0 §3.8.1.1); {@linkcode compileSelector} in
 * `selector.ts` is its only user. Literals follow the Java syntax the spec refers to: strings in single
 * quotes with `''` for a quote, integers in decimal, hex (`0x1F`) or octal (`017`) with an optional
 * `L`, and floating-point numbers such as `1.5`, `.5`, `7.`, `1e3` or `7E-2` with an optional `f`/`d`.
 *
 * @module
 */
import { BrokerError } from "./errors.ts";

/** What a token is; keywords are reported upper-cased in {@linkcode Token.value}. */
export type TokenKind = "string" | "number" | "identifier" | "keyword" | "operator" | "end";

/** One token with its offset in the selector text. */
export interface Token {
  /** What the token is. */
  readonly kind: TokenKind;
  /** The unescaped string, the numeric value, the identifier, the upper-cased keyword or the operator. */
  readonly value: string | number;
  /** UTF-16 offset of the first character. */
  readonly pos: number;
  /** UTF-16 offset just after the last character. */
  readonly end: number;
}

/** The reserved words; they are case-insensitive and are never identifiers. */
export const SELECTOR_KEYWORDS: ReadonlySet<string> = new Set([
  "AND",
  "OR",
  "NOT",
  "BETWEEN",
  "LIKE",
  "ESCAPE",
  "IN",
  "IS",
  "NULL",
  "TRUE",
  "FALSE",
]);

const WHITESPACE = /[ \t\f\r\n]+/y;
// Java identifier start and part characters (letters, currency symbols, connecting punctuation, ...).
const IDENTIFIER = /[\p{L}\p{Nl}\p{Sc}\p{Pc}][\p{L}\p{Nl}\p{Sc}\p{Pc}\p{Nd}\p{Mn}\p{Mc}]*/uy;
const NUMBER =
  /0[xX][0-9a-fA-F]+[lL]?|(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?|\d+[eE][+-]?\d+[fFdD]?|\d+[fFdDlL]?/y;
const IDENTIFIER_PART = /[\p{L}\p{Nl}\p{Sc}\p{Pc}\p{Nd}\p{Mn}\p{Mc}.]/u;
const OPERATORS = ["<>", "<=", ">=", "<", ">", "=", "+", "-", "*", "/", "(", ")", ","];

/**
 * Builds the `invalid_selector` error for a problem at `pos` (reported as a 1-based column).
 *
 * @example
 * ```ts
 * selectorError(4, "unterminated string literal").message;
 * // 'Cannot parse selector at column 5: unterminated string literal'
 * ```
 */
export function selectorError(pos: number, detail: string): BrokerError {
  return new BrokerError("invalid_selector", `Cannot parse selector at column ${pos + 1}: ${detail}`);
}

/**
 * Describes a token for an error message: `"AND"` or `end of input`.
 *
 * @example
 * ```ts
 * describeToken(tokenizeSelector("a")[1], "a"); // "end of input"
 * ```
 */
export function describeToken(token: Token, text: string): string {
  if (token.kind === "end") return "end of input";
  const shown = text.slice(token.pos, Math.min(token.end, token.pos + 24));
  return `"${shown}${token.end > token.pos + 24 ? "…" : ""}"`;
}

/**
 * Splits selector text into tokens, ending with one `end` token.
 *
 * @example
 * ```ts
 * tokenizeSelector("a = 'x'").map((t) => t.value); // ["a", "=", "x", ""]
 * ```
 */
export function tokenizeSelector(text: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (true) {
    WHITESPACE.lastIndex = pos;
    if (WHITESPACE.test(text)) pos = WHITESPACE.lastIndex;
    if (pos >= text.length) break;
    const c = text[pos];
    if (c === "'") {
      const [value, end] = readString(text, pos);
      tokens.push({ kind: "string", value, pos, end });
      pos = end;
      continue;
    }
    NUMBER.lastIndex = pos;
    const num = NUMBER.exec(text);
    if (num !== null) {
      tokens.push({ kind: "number", value: numberValue(num[0], pos), pos, end: NUMBER.lastIndex });
      pos = NUMBER.lastIndex;
      if (pos < text.length && IDENTIFIER_PART.test(text[pos])) {
        throw selectorError(pos, `invalid numeric literal "${text.slice(num.index, pos + 1)}"`);
      }
      continue;
    }
    IDENTIFIER.lastIndex = pos;
    const id = IDENTIFIER.exec(text);
    if (id !== null) {
      const upper = id[0].toUpperCase();
      // ASCII only: "ın".toUpperCase() is "IN", but that identifier is not the keyword.
      const keyword = SELECTOR_KEYWORDS.has(upper) && /^[A-Za-z]+$/.test(id[0]);
      const kind = keyword ? "keyword" : "identifier";
      tokens.push({ kind, value: keyword ? upper : id[0], pos, end: IDENTIFIER.lastIndex });
      pos = IDENTIFIER.lastIndex;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, pos));
    if (op === undefined) {
      throw selectorError(pos, `unexpected character "${String.fromCodePoint(text.codePointAt(pos)!)}"`);
    }
    tokens.push({ kind: "operator", value: op, pos, end: pos + op.length });
    pos += op.length;
  }
  tokens.push({ kind: "end", value: "", pos: text.length, end: text.length });
  return tokens;
}

function readString(text: string, start: number): [string, number] {
  let value = "";
  let from = start + 1;
  while (true) {
    const quote = text.indexOf("'", from);
    if (quote === -1) throw selectorError(start, "unterminated string literal");
    value += text.slice(from, quote);
    if (text[quote + 1] !== "'") return [value, quote + 1];
    value += "'";
    from = quote + 2;
  }
}

function numberValue(literal: string, pos: number): number {
  let value: number;
  if (/^0[xX]/.test(literal)) {
    value = parseInt(literal.replace(/[lL]$/, "").slice(2), 16);
  } else if (/^\d+[lL]?$/.test(literal)) {
    const digits = literal.replace(/[lL]$/, "");
    if (digits.length > 1 && digits[0] === "0") {
      if (!/^[0-7]+$/.test(digits)) throw selectorError(pos, `invalid octal literal "${literal}"`);
      value = parseInt(digits, 8);
    } else {
      value = Number(digits);
    }
  } else {
    value = Number(literal.replace(/[fFdD]$/, ""));
  }
  if (!Number.isFinite(value)) throw selectorError(pos, `numeric literal "${literal}" is out of range`);
  return value;
}

/** Finds a piece of a LIKE pattern in `s` at or after `from`; returns the end of the match or -1. */
type Find = (s: string, from: number) => number;

/**
 * Compiles a `LIKE` pattern (`%` any run of characters, `_` one character, `escape` before `%`, `_`
 * or itself for the literal character) into a test of a whole string. The pattern is split at `%`
 * into pieces matched left to right, each at its first possible place: `startsWith`, `indexOf` and
 * `endsWith` for plain text, a RegExp built here for a piece that holds `_`. That takes linear-ish
 * time where one backtracking RegExp such as `^.*a.*a.*a.*b$` can take exponential time on a hostile
 * pattern. `%` and `_` match any character, newlines included. `pos` is the offset for errors.
 *
 * @example
 * ```ts
 * compileLikePattern("eu-%", undefined, 0)("eu-west"); // true
 * compileLikePattern("100!%", "!", 0)("100%"); // true
 * ```
 */
export function compileLikePattern(
  pattern: string,
  escape: string | undefined,
  pos: number,
): (s: string) => boolean {
  // Split at unescaped "%": the first piece is anchored at the start, the last at the end.
  const pieces = [{ text: "", source: "", wild: false }];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    let c = chars[i];
    const piece = pieces[pieces.length - 1];
    if (c === escape) {
      c = chars[++i];
      if (c !== "%" && c !== "_" && c !== escape) {
        throw selectorError(
          pos,
          `escape character "${escape}" must precede "%", "_" or itself in "${pattern}"`,
        );
      }
    } else if (c === "%") {
      pieces.push({ text: "", source: "", wild: false });
      continue;
    } else if (c === "_") {
      piece.source += ".";
      piece.wild = true;
      continue;
    }
    piece.text += c;
    piece.source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  const [first] = pieces, last = pieces[pieces.length - 1];
  if (pieces.length === 1) {
    if (!first.wild) return (s) => s === first.text;
    const whole = new RegExp(`^(?:${first.source})$`, "su");
    return (s) => whole.test(s);
  }
  const finds: Find[] = [];
  if (first.source !== "") {
    const t = first.text;
    finds.push(first.wild ? regexFind(first.source, "y") : (s) => s.startsWith(t) ? t.length : -1);
  }
  for (const piece of pieces.slice(1, -1)) {
    const t = piece.text;
    if (piece.source === "") continue;
    finds.push(
      piece.wild ? regexFind(piece.source, "g") : (s, from) => {
        const at = s.indexOf(t, from);
        return at === -1 ? -1 : at + t.length;
      },
    );
  }
  if (last.source !== "") {
    const t = last.text;
    finds.push(
      last.wild
        ? regexFind(`(?:${last.source})$`, "g")
        : (s, from) => s.length - t.length >= from && s.endsWith(t) ? s.length : -1,
    );
  }
  if (finds.length === 1) {
    const find = finds[0];
    return (s) => find(s, 0) !== -1;
  }
  return (s) => {
    let at = 0;
    for (const find of finds) if ((at = find(s, at)) === -1) return false;
    return true;
  };
}

function regexFind(source: string, flag: "y" | "g"): Find {
  const re = new RegExp(source, flag + "su");
  return (s, from) => {
    re.lastIndex = from;
    return re.exec(s) === null ? -1 : re.lastIndex;
  };
}
