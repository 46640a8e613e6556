/**
 * JMS message selectors (JMS 2.0 §3.8.1.1, a subset of SQL-92 conditional expressions). A selector is
 * parsed once and compiled into a tree of closures composed at compile time; evaluating it against a
 * message calls those closures and never walks a syntax tree.
 *
 * Precedence, loosest first: OR, AND, NOT, comparison (`=` `<>` `<` `>` `<=` `>=`, `BETWEEN`, `LIKE`,
 * `IN`, `IS NULL`, none of them chained), `+` `-`, `*` `/`, unary `+` `-`. Semantics:
 * - SQL three-valued logic: a comparison, arithmetic, `BETWEEN`, `LIKE` or `IN` with a NULL operand
 *   (a missing property) is UNKNOWN; `NOT UNKNOWN` is UNKNOWN, `FALSE AND UNKNOWN` is FALSE and
 *   `TRUE OR UNKNOWN` is TRUE. A message matches only when the selector is TRUE.
 * - Type mismatches at run time (a string property compared with a number, arithmetic on a string,
 *   `<` on booleans or strings, a non-boolean property used as a condition) are UNKNOWN, not errors.
 * - Type errors visible at compile time are rejected with `invalid_selector`: a literal or header of
 *   the wrong type (`'a' + 1`, `JMSPriority = 'high'`, `'a' < 'b'`, `NOT 5`), and a selector whose
 *   value is a number or a string (`weight + 1`).
 * - Strings and booleans compare only with `=` and `<>` (as the JMS spec says); numbers compare across
 *   integer and floating-point forms. `/` divides in floating point (`7 / 2` is 3.5, not Java's 3);
 *   division by zero is UNKNOWN.
 * - `LIKE` patterns match the whole string and `%` also matches newlines; see `compileLikePattern` in
 *   `selector_lexer.ts` for why a pattern is not one backtracking RegExp.
 *
 * @module
 */
import type { PropertyValue } from "./message.ts";
import {
  compileLikePattern,
  describeToken,
  selectorError,
  type Token,
  tokenizeSelector,
} from "./selector_lexer.ts";

export type { PropertyValue } from "./message.ts";

/** What a selector reads; the broker's `Message` type satisfies it structurally. */
export interface SelectorSource {
  /** `JMSMessageID`. */
  readonly id: string;
  /** `JMSPriority`. */
  readonly priority: number;
  /** `JMSTimestamp`. */
  readonly timestamp: number;
  /** `JMSDeliveryMode`: `'PERSISTENT'` when true, `'NON_PERSISTENT'` when false. */
  readonly persistent: boolean;
  /** `JMSXDeliveryCount` is this plus one. */
  readonly redeliveryCount: number;
  /** `JMSCorrelationID`. */
  readonly correlationId?: string;
  /** `JMSType`. */
  readonly subject?: string;
  /** `JMSXGroupID`. */
  readonly groupId?: string;
  /** `JMSReplyTo`: a reply address, `queue://<name>` or `topic://<name>`. */
  readonly replyTo?: string;
  /** Every other identifier; a missing one is NULL. */
  readonly properties: Readonly<Record<string, PropertyValue | undefined>>;
}

/** A compiled selector: true when the message matches. */
export type Selector = (m: SelectorSource) => boolean;

/** The longest selector text {@linkcode compileSelector} accepts, in UTF-16 code units. */
export const MAX_SELECTOR_LENGTH = 4096;
/** The deepest nesting of parentheses, `NOT` and unary signs {@linkcode compileSelector} accepts. */
export const MAX_SELECTOR_DEPTH = 100;

type Value = PropertyValue;
type Eval = (m: SelectorSource) => Value;
type Kind = "boolean" | "number" | "string" | "any";
interface Node {
  readonly kind: Kind;
  readonly fn: Eval;
  readonly constant: boolean;
  readonly pos: number;
}

/** What constant folding passes: a constant never reads the message. */
const NO_MESSAGE = {} as SelectorSource;

const HEADERS = new Map<string, { kind: Kind; fn: Eval }>([
  ["JMSPriority", { kind: "number", fn: (m) => m.priority }],
  ["JMSMessageID", { kind: "string", fn: (m) => m.id }],
  ["JMSTimestamp", { kind: "number", fn: (m) => m.timestamp }],
  ["JMSCorrelationID", { kind: "string", fn: (m) => m.correlationId ?? null }],
  ["JMSType", { kind: "string", fn: (m) => m.subject ?? null }],
  ["JMSDeliveryMode", { kind: "string", fn: (m) => m.persistent ? "PERSISTENT" : "NON_PERSISTENT" }],
  ["JMSReplyTo", { kind: "string", fn: (m) => m.replyTo ?? null }],
  ["JMSXGroupID", { kind: "string", fn: (m) => m.groupId ?? null }],
  ["JMSXDeliveryCount", { kind: "number", fn: (m) => m.redeliveryCount + 1 }],
]);

const COMPARISONS = new Set(["=", "<>", "<", ">", "<=", ">="]);

/**
 * Parses and compiles a JMS message selector.
 *
 * @example
 * ```ts
 * const select = compileSelector("color = 'red' AND weight > 10 OR region LIKE 'eu-%'");
 * select({ id: "1", priority: 4, timestamp: 0, persistent: true, redeliveryCount: 0,
 *   properties: { region: "eu-west" } }); // true
 * ```
 *
 * @throws {BrokerError} `invalid_selector` when the text is empty, too long, nested too deeply, does
 * not parse or has a type error visible at compile time; the message gives the 1-based column.
 */
export function compileSelector(text: string): Selector {
  if (text.trim() === "") throw selectorError(0, "the text is empty");
  if (text.length > MAX_SELECTOR_LENGTH) {
    throw selectorError(
      MAX_SELECTOR_LENGTH,
      `the text has ${text.length} characters, the limit is ${MAX_SELECTOR_LENGTH}`,
    );
  }
  const node = new SelectorParser(text).parse();
  if (node.constant) {
    const result = node.fn(NO_MESSAGE) === true;
    return () => result;
  }
  const fn = node.fn;
  return (m) => fn(m) === true;
}

class SelectorParser {
  #text: string;
  #tokens: Token[];
  #i = 0;
  #depth = 0;

  constructor(text: string) {
    this.#text = text;
    this.#tokens = tokenizeSelector(text);
  }

  parse(): Node {
    const node = this.#or();
    if (this.#peek().kind !== "end") this.#fail("end of input");
    return expect(node, ["boolean"], "the selector must be a condition, found", 0);
  }

  #peek(): Token {
    return this.#tokens[this.#i];
  }

  /** Consumes the next token when it is the keyword or operator `value`. */
  #accept(value: string): boolean {
    const t = this.#tokens[this.#i];
    if ((t.kind !== "keyword" && t.kind !== "operator") || t.value !== value) return false;
    this.#i++;
    return true;
  }

  #take(value: string): void {
    if (!this.#accept(value)) this.#fail(`"${value}"`);
  }

  #string(expected: string): string {
    const t = this.#peek();
    if (t.kind !== "string") this.#fail(expected);
    this.#i++;
    return t.value as string;
  }

  #fail(expected: string): never {
    const t = this.#peek();
    throw selectorError(t.pos, `expected ${expected}, found ${describeToken(t, this.#text)}`);
  }

  #nested<T>(pos: number, parse: () => T): T {
    if (++this.#depth > MAX_SELECTOR_DEPTH) {
      throw selectorError(pos, `nesting is deeper than ${MAX_SELECTOR_DEPTH} levels`);
    }
    const result = parse();
    this.#depth--;
    return result;
  }

  #or(): Node {
    const parts = [this.#and()];
    while (this.#accept("OR")) parts.push(this.#and());
    return parts.length === 1 ? parts[0] : logical(parts, "OR");
  }

  #and(): Node {
    const parts = [this.#not()];
    while (this.#accept("AND")) parts.push(this.#not());
    return parts.length === 1 ? parts[0] : logical(parts, "AND");
  }

  #not(): Node {
    const pos = this.#peek().pos;
    if (!this.#accept("NOT")) return this.#predicate();
    return not(this.#nested(pos, () => this.#not()), pos);
  }

  #predicate(): Node {
    const left = this.#arithmetic(0);
    const t = this.#peek();
    if (t.kind === "operator" && COMPARISONS.has(t.value as string)) {
      this.#i++;
      return compare(left, t.value as string, this.#arithmetic(0), t.pos);
    }
    if (this.#accept("IS")) {
      const negated = this.#accept("NOT");
      this.#take("NULL");
      const f = left.fn;
      return node("boolean", negated ? (m) => f(m) !== null : (m) => f(m) === null, t.pos, left);
    }
    const negated = this.#accept("NOT");
    const op = this.#peek();
    let result: Node;
    if (this.#accept("BETWEEN")) {
      const low = this.#arithmetic(0);
      this.#take("AND");
      result = between(left, low, this.#arithmetic(0), op.pos);
    } else if (this.#accept("LIKE")) {
      const pattern = this.#string("a string literal pattern");
      let escape: string | undefined;
      if (this.#accept("ESCAPE")) {
        const at = this.#peek().pos;
        escape = this.#string("a string literal escape character");
        if ([...escape].length !== 1) {
          throw selectorError(at, `ESCAPE must be one character, found "${escape}"`);
        }
      }
      result = stringTest(left, compileLikePattern(pattern, escape, op.pos), op);
    } else if (this.#accept("IN")) {
      this.#take("(");
      const values = new Set([this.#string("a string literal")]);
      while (this.#accept(",")) values.add(this.#string("a string literal"));
      this.#take(")");
      result = stringTest(left, (s) => values.has(s), op);
    } else if (negated) {
      return this.#fail("BETWEEN, LIKE or IN after NOT");
    } else {
      return left;
    }
    return negated ? not(result, t.pos) : result;
  }

  /** Level 0 parses `+` and `-`, level 1 parses `*` and `/`, level 2 parses unary signs. */
  #arithmetic(level: number): Node {
    if (level === 2) return this.#unary();
    const ops = level === 0 ? ["+", "-"] : ["*", "/"];
    let left = this.#arithmetic(level + 1);
    for (let t = this.#peek(); t.kind === "operator" && ops.includes(t.value as string); t = this.#peek()) {
      this.#i++;
      left = arithmetic(left, t.value as string, this.#arithmetic(level + 1), t.pos);
    }
    return left;
  }

  #unary(): Node {
    const t = this.#peek();
    if (!this.#accept("-") && !this.#accept("+")) return this.#primary();
    // -x is 0 - x and +x is 0 + x: the same type checks, UNKNOWN for a non-number, and folding.
    return arithmetic(constant(0, t.pos), t.value as string, this.#nested(t.pos, () => this.#unary()), t.pos);
  }

  #primary(): Node {
    const t = this.#peek();
    if (t.kind === "string" || t.kind === "number") {
      this.#i++;
      return constant(t.value, t.pos);
    }
    if (t.kind === "identifier") {
      this.#i++;
      const header = HEADERS.get(t.value as string);
      if (header !== undefined) return { ...header, constant: false, pos: t.pos };
      return { kind: "any", fn: property(t.value as string), constant: false, pos: t.pos };
    }
    if (this.#accept("TRUE") || this.#accept("FALSE")) return constant(t.value === "TRUE", t.pos);
    if (this.#accept("(")) {
      const inner = this.#nested(t.pos, () => this.#or());
      this.#take(")");
      return inner;
    }
    if (t.kind === "keyword" && t.value === "NULL") {
      throw selectorError(t.pos, 'NULL is only allowed in "IS NULL" and "IS NOT NULL"');
    }
    return this.#fail("an expression");
  }
}

function property(name: string): Eval {
  if (name in Object.prototype) {
    // "constructor", "__proto__", ...: only an own property counts.
    return (m) => Object.hasOwn(m.properties, name) ? m.properties[name] ?? null : null;
  }
  return (m) => m.properties[name] ?? null;
}

function constant(value: Value, pos: number, kind?: Kind): Node {
  const k = kind ?? (value === null ? "any" : typeof value as Kind);
  return { kind: k, fn: () => value, constant: true, pos };
}

/** Makes a node; when every operand is constant, evaluates it now (constant folding). */
function node(kind: Kind, fn: Eval, pos: number, ...operands: Node[]): Node {
  if (operands.every((o) => o.constant)) return constant(fn(NO_MESSAGE), pos, kind);
  return { kind, fn, constant: false, pos };
}

/** Rejects at compile time an operand whose type is known and not one of `kinds`. */
function expect(operand: Node, kinds: Kind[], what: string, pos = operand.pos): Node {
  if (operand.kind !== "any" && !kinds.includes(operand.kind)) {
    throw selectorError(pos, `${what} a ${operand.kind}`);
  }
  return operand;
}

function not(operand: Node, pos: number): Node {
  const f = expect(operand, ["boolean"], "NOT needs a condition, found").fn;
  const fn: Eval = (m) => {
    const x = f(m);
    return typeof x === "boolean" ? !x : null;
  };
  return node("boolean", fn, pos, operand);
}

function logical(parts: Node[], op: "AND" | "OR"): Node {
  const fns = parts.map((p) => expect(p, ["boolean"], `${op} needs conditions, found`).fn);
  // AND: any FALSE is FALSE, all TRUE is TRUE. OR: any TRUE is TRUE, all FALSE is FALSE. Else UNKNOWN.
  const stop = op === "OR";
  const [a, b] = fns;
  const fn: Eval = fns.length === 2
    ? (m) => {
      const x = a(m);
      if (x === stop) return stop;
      const y = b(m);
      if (y === stop) return stop;
      return x === !stop && y === !stop ? !stop : null;
    }
    : (m) => {
      let result: Value = !stop;
      for (const f of fns) {
        const v = f(m);
        if (v === stop) return stop;
        if (v !== !stop) result = null;
      }
      return result;
    };
  return node("boolean", fn, parts[0].pos, ...parts);
}

function compare(left: Node, op: string, right: Node, pos: number): Node {
  const l = left.fn, r = right.fn;
  let fn: Eval;
  if (op === "=" || op === "<>") {
    if (left.kind !== "any" && right.kind !== "any" && left.kind !== right.kind) {
      throw selectorError(pos, `"${op}" cannot compare a ${left.kind} with a ${right.kind}`);
    }
    const equal = op === "=";
    fn = (m) => {
      const x = l(m), y = r(m);
      return x === null || y === null || typeof x !== typeof y ? null : (x === y) === equal;
    };
  } else {
    expect(left, ["number"], `"${op}" needs numbers, found`, pos);
    expect(right, ["number"], `"${op}" needs numbers, found`, pos);
    const order = ORDER[op];
    fn = (m) => {
      const x = l(m), y = r(m);
      return typeof x === "number" && typeof y === "number" ? order(x, y) : null;
    };
  }
  return node("boolean", fn, pos, left, right);
}

const ORDER: Record<string, (x: number, y: number) => boolean> = {
  "<": (x, y) => x < y,
  ">": (x, y) => x > y,
  "<=": (x, y) => x <= y,
  ">=": (x, y) => x >= y,
};

function between(value: Node, low: Node, high: Node, pos: number): Node {
  for (const operand of [value, low, high]) expect(operand, ["number"], "BETWEEN needs numbers, found");
  const v = value.fn, lo = low.constant && low.fn(NO_MESSAGE), hi = high.constant && high.fn(NO_MESSAGE);
  if (typeof lo !== "number" || typeof hi !== "number") {
    return logical([compare(value, ">=", low, pos), compare(value, "<=", high, pos)], "AND");
  }
  const fn: Eval = (m) => {
    const x = v(m);
    return typeof x === "number" ? x >= lo && x <= hi : null;
  };
  return node("boolean", fn, pos, value);
}

function arithmetic(left: Node, op: string, right: Node, pos: number): Node {
  const what = `"${op}" needs numbers, found`;
  const l = expect(left, ["number"], what, pos).fn, r = expect(right, ["number"], what, pos).fn;
  const apply = ARITHMETIC[op];
  const fn: Eval = (m) => {
    const x = l(m), y = r(m);
    return typeof x === "number" && typeof y === "number" ? apply(x, y) : null;
  };
  return node("number", fn, pos, left, right);
}

const ARITHMETIC: Record<string, (x: number, y: number) => number | null> = {
  "+": (x, y) => x + y,
  "-": (x, y) => x - y,
  "*": (x, y) => x * y,
  "/": (x, y) => y === 0 ? null : x / y,
};

/** `LIKE` and `IN`: UNKNOWN unless the operand is a string. */
function stringTest(operand: Node, test: (s: string) => boolean, op: Token): Node {
  const f = expect(operand, ["string"], `${op.value} needs a string, found`, op.pos).fn;
  const fn: Eval = (m) => {
    const x = f(m);
    return typeof x === "string" ? test(x) : null;
  };
  return node("boolean", fn, op.pos, operand);
}
