import assert from "node:assert/strict";
import { isBrokerError } from "../../broker/errors.ts";
import {
  compileSelector,
  MAX_SELECTOR_DEPTH,
  MAX_SELECTOR_LENGTH,
  type PropertyValue,
  type SelectorSource,
} from "../../broker/selector.ts";

type Props = Record<string, PropertyValue>;

function message(fields: Partial<SelectorSource> = {}): SelectorSource {
  return {
    id: "ID:1",
    priority: 4,
    timestamp: 1000,
    persistent: true,
    redeliveryCount: 0,
    properties: {},
    ...fields,
  };
}

/** A selector, what the message is, its properties, the verdict, and other message fields. */
type Case = [
  selector: string,
  when: string,
  properties: Props,
  matches: boolean,
  fields?: Partial<SelectorSource>,
];

function run(cases: Case[]): void {
  for (const [selector, when, properties, matches, fields] of cases) {
    const m = message({ properties, ...fields });
    Deno.test(`compileSelector() ${matches ? "matches" : "does not match"} "${selector}" ${when}`, () => {
      assert.equal(compileSelector(selector)(m), matches);
    });
  }
}

// TRUE, FALSE and UNKNOWN operands: t = 1 is TRUE, t = 2 is FALSE, u = 1 is UNKNOWN (u is missing).
const T = { t: 1 };

run([
  // Precedence and associativity.
  ["a = 1 OR b = 1 AND c = 1", "for a=1 b=0 c=0 (AND binds tighter than OR)", { a: 1, b: 0, c: 0 }, true],
  ["a = 1 OR b = 1 AND c = 1", "for a=0 b=1 c=0", { a: 0, b: 1, c: 0 }, false],
  ["(a = 1 OR b = 1) AND c = 1", "for a=1 b=0 c=0", { a: 1, b: 0, c: 0 }, false],
  ["NOT a = 1 OR b = 1", "for a=1 b=1 (NOT binds tighter than OR)", { a: 1, b: 1 }, true],
  ["NOT a = 1 AND b = 1", "for a=2 b=1", { a: 2, b: 1 }, true],
  ["NOT NOT flag", "for flag=true", { flag: true }, true],
  ["a + 2 * 3 = 7", "for a=1 (* binds tighter than +)", { a: 1 }, true],
  ["(a + 2) * 3 = 9", "for a=1", { a: 1 }, true],
  ["a - 2 - 3 = 5", "for a=10 (- is left-associative)", { a: 10 }, true],
  ["a / 2 * 4 = 20", "for a=10 (/ is left-associative)", { a: 10 }, true],
  ["-a * 2 = -6", "for a=3 (unary minus binds tightest)", { a: 3 }, true],
  ["- - a = +3", "for a=3", { a: 3 }, true],
  ["a * 2 > 5 AND a * 2 < 7", "for a=3", { a: 3 }, true],

  // Three-valued logic.
  ["t = 1 AND t = 1", "(TRUE AND TRUE)", T, true],
  ["t = 1 AND u = 1", "(TRUE AND UNKNOWN)", T, false],
  ["NOT (t = 1 AND u = 1)", "(NOT (TRUE AND UNKNOWN) is UNKNOWN)", T, false],
  ["NOT (t = 2 AND u = 1)", "(FALSE AND UNKNOWN is FALSE)", T, true],
  ["NOT (u = 1 AND t = 2)", "(UNKNOWN AND FALSE is FALSE)", T, true],
  ["NOT (u = 1 AND u = 2)", "(UNKNOWN AND UNKNOWN is UNKNOWN)", T, false],
  ["NOT (t = 1 AND u = 1 AND t = 2)", "(a FALSE among three AND operands)", T, true],
  ["t = 1 OR u = 1", "(TRUE OR UNKNOWN is TRUE)", T, true],
  ["u = 1 OR t = 1", "(UNKNOWN OR TRUE is TRUE)", T, true],
  ["t = 2 OR u = 1", "(FALSE OR UNKNOWN)", T, false],
  ["NOT (t = 2 OR u = 1)", "(NOT (FALSE OR UNKNOWN) is UNKNOWN)", T, false],
  ["u = 1 OR u = 2 OR t = 1", "(a TRUE among three OR operands)", T, true],
  ["NOT t = 2", "(NOT FALSE)", T, true],
  ["NOT t = 1", "(NOT TRUE)", T, false],
  ["NOT u = 1", "for a missing property (NOT UNKNOWN)", T, false],
  ["u IS NULL", "for a missing property", T, true],
  ["u IS NULL", "for a null property", { u: null }, true],
  ["t IS NULL", "for a present property", T, false],
  ["u IS NOT NULL", "for a missing property", T, false],
  ["t IS NOT NULL", "for a present property", T, true],
  ["NOT (u IS NULL)", "for a missing property", T, false],
  ["u <> 1", "for a missing property", T, false],
  ["u + 1 IS NULL", "for a missing property (arithmetic on NULL is NULL)", T, true],
  ["flag", "for a missing boolean property", {}, false],
  ["NOT flag", "for a missing boolean property", {}, false],
  ["NOT flag", "for flag=false", { flag: false }, true],

  // LIKE.
  ["region LIKE 'eu-%'", "for region 'eu-west'", { region: "eu-west" }, true],
  ["region LIKE 'eu-%'", "for region 'us-east'", { region: "us-east" }, false],
  ["region LIKE 'eu-%'", "for region 'eu-' (% matches nothing)", { region: "eu-" }, true],
  ["code LIKE 'a_c'", "for 'abc'", { code: "abc" }, true],
  ["code LIKE 'a_c'", "for 'abbc' (_ is one character)", { code: "abbc" }, false],
  ["code LIKE 'a_c'", "for 'ac'", { code: "ac" }, false],
  ["name LIKE '%son'", "for 'Jackson'", { name: "Jackson" }, true],
  ["name LIKE '%ck%'", "for 'Jackson'", { name: "Jackson" }, true],
  ["name LIKE 'J%s%n'", "for 'Jackson'", { name: "Jackson" }, true],
  ["name LIKE 'J%s%n'", "for 'Jacksonville'", { name: "Jacksonville" }, false],
  ["d LIKE '%a_b%'", "for 'xxa-bxx'", { d: "xxa-bxx" }, true],
  ["d LIKE 'x_%_y'", "for 'xaby'", { d: "xaby" }, true],
  ["d LIKE 'x_%_y'", "for 'xay'", { d: "xay" }, false],
  ["d LIKE 'ab%ba'", "for 'aba' (pieces do not overlap)", { d: "aba" }, false],
  ["d LIKE ''", "for ''", { d: "" }, true],
  ["d LIKE '%'", "for ''", { d: "" }, true],
  ["pct LIKE '100\\%' ESCAPE '\\'", "for '100%'", { pct: "100%" }, true],
  ["pct LIKE '100\\%' ESCAPE '\\'", "for '1000' (escaped % is literal)", { pct: "1000" }, false],
  ["u LIKE 'a!_b' ESCAPE '!'", "for 'a_b'", { u: "a_b" }, true],
  ["u LIKE 'a!_b' ESCAPE '!'", "for 'axb' (escaped _ is literal)", { u: "axb" }, false],
  ["u LIKE '%!_%' ESCAPE '!'", "for 'snake_case'", { u: "snake_case" }, true],
  ["p LIKE 'a!!b' ESCAPE '!'", "for 'a!b' (escaped escape)", { p: "a!b" }, true],
  ["f LIKE 'file.txt'", "for 'file.txt'", { f: "file.txt" }, true],
  ["f LIKE 'file.txt'", "for 'fileXtxt' (. is literal)", { f: "fileXtxt" }, false],
  ["f LIKE '(a)_%'", "for '(a)bc'", { f: "(a)bc" }, true],
  [
    "f LIKE 'a+b*[c]?{2}$^|\\_'",
    "for the same text (regex metacharacters)",
    { f: "a+b*[c]?{2}$^|\\x" },
    true,
  ],
  ["f LIKE 'a+b*[c]?{2}$^|\\_'", "for 'aab' (metacharacters are literal)", { f: "aab" }, false],
  ["body LIKE 'a%b'", "for 'a\\nb' (% matches newlines)", { body: "a\nb" }, true],
  ["body LIKE 'a_b'", "for 'a\\nb' (_ matches a newline)", { body: "a\nb" }, true],
  ["e LIKE '_'", "for one astral character", { e: "😀" }, true],
  ["region NOT LIKE 'eu-%'", "for region 'us-east'", { region: "us-east" }, true],
  ["region NOT LIKE 'eu-%'", "for region 'eu-west'", { region: "eu-west" }, false],
  ["region NOT LIKE 'eu-%'", "for a missing region", {}, false],
  ["region LIKE '1%'", "for a numeric region", { region: 12 }, false],
  ["region NOT LIKE '1%'", "for a numeric region", { region: 12 }, false],

  // IN.
  ["kind IN ('a', 'b')", "for 'b'", { kind: "b" }, true],
  ["kind IN ('a', 'b')", "for 'c'", { kind: "c" }, false],
  ["kind NOT IN ('a', 'b')", "for 'c'", { kind: "c" }, true],
  ["kind NOT IN ('a', 'b')", "for 'a'", { kind: "a" }, false],
  ["kind IN ('a', 'b')", "for a missing kind", {}, false],
  ["kind NOT IN ('a', 'b')", "for a missing kind (NULL IN is UNKNOWN)", {}, false],
  ["kind NOT IN ('1', '2')", "for a numeric kind", { kind: 3 }, false],
  ["kind IN ('it''s')", 'for "it\'s"', { kind: "it's" }, true],
  ["JMSType in ('order')", "for subject 'order' (keywords are case-insensitive)", {}, true, {
    subject: "order",
  }],

  // BETWEEN.
  ["w BETWEEN 1 AND 10", "for w=1 (inclusive)", { w: 1 }, true],
  ["w BETWEEN 1 AND 10", "for w=10 (inclusive)", { w: 10 }, true],
  ["w BETWEEN 1 AND 10", "for w=5.5", { w: 5.5 }, true],
  ["w BETWEEN 1 AND 10", "for w=11", { w: 11 }, false],
  ["w NOT BETWEEN 1 AND 10", "for w=11", { w: 11 }, true],
  ["w NOT BETWEEN 1 AND 10", "for w=5", { w: 5 }, false],
  ["w NOT BETWEEN 1 AND 10", "for a missing w", {}, false],
  ["w BETWEEN 1 AND 10", "for w='5'", { w: "5" }, false],
  ["w BETWEEN lo AND hi", "for lo=1 w=2 hi=3", { lo: 1, w: 2, hi: 3 }, true],
  ["w NOT BETWEEN lo AND hi", "for w=5 hi=3 and a missing lo (UNKNOWN AND FALSE)", { w: 5, hi: 3 }, true],
  ["w BETWEEN 2 - 1 AND 5 * 2 AND x = 1", "for w=10 x=1", { w: 10, x: 1 }, true],

  // Types.
  ["s = 5", "for s='5' (string vs number is UNKNOWN)", { s: "5" }, false],
  ["NOT s = 5", "for s='5'", { s: "5" }, false],
  ["s <> 5", "for s='5'", { s: "5" }, false],
  ["s > 1", "for s='5'", { s: "5" }, false],
  ["s + 1 = 6", "for s='5' (arithmetic on a string)", { s: "5" }, false],
  ["s = 'a'", "for s=1", { s: 1 }, false],
  ["flag > 1", "for flag=true", { flag: true }, false],
  ["flag = TRUE", "for flag=true", { flag: true }, true],
  ["flag <> FALSE", "for flag=true", { flag: true }, true],
  ["flag = 'true'", "for flag=true", { flag: true }, false],
  ["flag", "for flag='yes' (a non-boolean condition is UNKNOWN)", { flag: "yes" }, false],
  ["NOT flag", "for flag='yes'", { flag: "yes" }, false],
  ["a < b", "for a='x' b='y' (strings compare only with = and <>)", { a: "x", b: "y" }, false],
  ["a = b", "for a='x' b='x'", { a: "x", b: "x" }, true],
  ["a = b", "for a=1 b='1'", { a: 1, b: "1" }, false],
  ["(a > 1) = (b > 1)", "for a=2 b=3", { a: 2, b: 3 }, true],
  ["w = 1.0", "for w=1 (integer and float compare)", { w: 1 }, true],
  ["w > 1.5", "for w=2", { w: 2 }, true],
  ["w / 2 = 2.5", "for w=5 (floating-point division)", { w: 5 }, true],
  ["w / 0 = 1", "for w=5 (division by zero is UNKNOWN)", { w: 5 }, false],
  ["NOT w / 0 = 1", "for w=5", { w: 5 }, false],

  // String literals.
  ["s = 'it''s'", 'for "it\'s"', { s: "it's" }, true],
  ["s = ''''", 'for "\'"', { s: "'" }, true],
  ["s = ''", "for ''", { s: "" }, true],
  ["s = 'a b  c'", "for 'a b  c' (whitespace is kept)", { s: "a b  c" }, true],
  ["s = 'Red'", "for 'red' (strings are case-sensitive)", { s: "red" }, false],

  // Numeric literals.
  ["n = 1e3", "for n=1000", { n: 1000 }, true],
  ["n = 7E-2", "for n=0.07", { n: 0.07 }, true],
  ["n = 1.5", "for n=1.5", { n: 1.5 }, true],
  ["n = .5", "for n=0.5", { n: 0.5 }, true],
  ["n = 7.", "for n=7", { n: 7 }, true],
  ["n = -57.9E2", "for n=-5790", { n: -5790 }, true],
  ["n = 0x1F", "for n=31", { n: 31 }, true],
  ["n = 017", "for n=15 (Java octal)", { n: 15 }, true],
  ["n = 10L", "for n=10", { n: 10 }, true],
  ["n = 1.5f", "for n=1.5", { n: 1.5 }, true],
  ["n = -5", "for n=-5", { n: -5 }, true],
  ["n = +5", "for n=5", { n: 5 }, true],
  ["n = 0", "for n=-0", { n: -0 }, true],

  // Header and property identifiers.
  ["JMSPriority > 4", "for priority 7", {}, true, { priority: 7 }],
  ["JMSPriority > 4", "for priority 4", {}, false, { priority: 4 }],
  ["JMSPriority = 9", "for priority 4 and a property JMSPriority=9", { JMSPriority: 9 }, false],
  ["JMSMessageID = 'ID:42'", "for id 'ID:42'", {}, true, { id: "ID:42" }],
  ["JMSTimestamp >= 1000", "for timestamp 1000", {}, true, { timestamp: 1000 }],
  ["JMSCorrelationID = 'c-1'", "for correlationId 'c-1'", {}, true, { correlationId: "c-1" }],
  ["JMSCorrelationID IS NULL", "without a correlationId", {}, true],
  ["JMSType = 'order'", "for subject 'order'", {}, true, { subject: "order" }],
  ["JMSDeliveryMode = 'PERSISTENT'", "for a persistent message", {}, true, { persistent: true }],
  ["JMSDeliveryMode = 'NON_PERSISTENT'", "for a non-persistent message", {}, true, { persistent: false }],
  ["JMSReplyTo = 'replies'", "for replyTo 'replies'", {}, true, { replyTo: "replies" }],
  ["JMSXGroupID = 'g1'", "for groupId 'g1'", {}, true, { groupId: "g1" }],
  ["JMSXDeliveryCount = 1", "for redeliveryCount 0", {}, true, { redeliveryCount: 0 }],
  ["JMSXDeliveryCount > 1", "for redeliveryCount 2", {}, true, { redeliveryCount: 2 }],
  [
    "JMSXUserID = 'bob'",
    "for a property JMSXUserID (other names are properties)",
    { JMSXUserID: "bob" },
    true,
  ],
  ["Color = 'red'", "for a property color (identifiers are case-sensitive)", { color: "red" }, false],
  ["color = 'red' and NOT weight is null", "for color='red' weight=1", { color: "red", weight: 1 }, true],
  ["$price > 1 AND _x_1 = 2", "for $price=2 _x_1=2", { $price: 2, _x_1: 2 }, true],
  ["größe = 1", "for größe=1 (Unicode identifiers)", { "größe": 1 }, true],
  ["ın = 'x'", "for a property ın (only ASCII letters spell keywords)", { "ın": "x" }, true],
  ["constructor IS NULL", "for no properties (inherited names are not properties)", {}, true],
  ["toString IS NULL AND __proto__ IS NULL", "for no properties", {}, true],
  ["constructor = 'x'", "for an own property constructor='x'", { constructor: "x" }, true],

  // Constant selectors.
  ["1 = 1", "for any message", {}, true],
  ["TRUE", "for any message", {}, true],
  ["FALSE OR 2 > 3", "for any message", {}, false],
]);

Deno.test("compileSelector() evaluates the same compiled selector against many messages", () => {
  const select = compileSelector("color = 'red' AND weight > 10 OR region LIKE 'eu-%'");
  assert.equal(select(message({ properties: { color: "red", weight: 11 } })), true);
  assert.equal(select(message({ properties: { color: "red", weight: 10 } })), false);
  assert.equal(select(message({ properties: { color: "blue", region: "eu-north" } })), true);
  assert.equal(select(message()), false);
});

Deno.test("compileSelector() matches a hostile LIKE pattern in bounded time", () => {
  const select = compileSelector(`a LIKE '${"%a".repeat(30)}%b'`);
  assert.equal(select(message({ properties: { a: "a".repeat(4000) } })), false);
  assert.equal(select(message({ properties: { a: "a".repeat(4000) + "b" } })), true);
});

Deno.test("compileSelector() evaluates a long arithmetic chain at the length limit", () => {
  const text = "a" + " + a".repeat(1000) + " = 1001";
  assert.ok(text.length <= MAX_SELECTOR_LENGTH);
  assert.equal(compileSelector(text)(message({ properties: { a: 1 } })), true);
});

Deno.test(`compileSelector() accepts ${MAX_SELECTOR_DEPTH} nested parentheses`, () => {
  const text = "(".repeat(MAX_SELECTOR_DEPTH) + "a = 1" + ")".repeat(MAX_SELECTOR_DEPTH);
  assert.equal(compileSelector(text)(message({ properties: { a: 1 } })), true);
});

/** Selector text, why it is wrong, and a fragment of the error message. */
type Rejection = [selector: string, why: string, fragment: string];

const deep = MAX_SELECTOR_DEPTH + 1;
const rejections: Rejection[] = [
  ["", "(empty)", "the text is empty"],
  [" \t\n ", "(whitespace only)", "the text is empty"],
  ["(a = 1", "(unbalanced parenthesis)", 'column 7: expected ")", found end of input'],
  ["((a = 1)", "(unbalanced parenthesis)", 'expected ")"'],
  ["a = 1)", "(unbalanced parenthesis)", 'column 6: expected end of input, found ")"'],
  ["a = 1 b = 2", "(trailing tokens)", 'column 7: expected end of input, found "b"'],
  ["a = 1 = 2", "(chained comparison)", 'expected end of input, found "="'],
  ["a = 1 AND", "(missing operand)", "expected an expression, found end of input"],
  ["a = 'x", "(unterminated string)", "column 5: unterminated string literal"],
  ["a = 'it''s", "(unterminated string after an escaped quote)", "unterminated string literal"],
  ["a LIKE 'x' ESCAPE 'ab'", "(ESCAPE of two characters)", 'ESCAPE must be one character, found "ab"'],
  ["a LIKE 'x' ESCAPE ''", "(empty ESCAPE)", 'ESCAPE must be one character, found ""'],
  ["a LIKE 'x!' ESCAPE '!'", "(escape at the end of the pattern)", 'escape character "!"'],
  ["a LIKE '!a' ESCAPE '!'", "(escape before an ordinary character)", 'escape character "!"'],
  ["a LIKE b", "(pattern is not a literal)", "expected a string literal pattern"],
  ["a IN ()", "(empty IN list)", "expected a string literal"],
  ["a IN (1, 2)", "(numbers in an IN list)", 'column 7: expected a string literal, found "1"'],
  ["a IN 'x'", "(IN without parentheses)", 'expected "("'],
  ["a BETWEEN 1", "(BETWEEN without AND)", 'expected "AND"'],
  ["a IS 1", "(IS without NULL)", 'expected "NULL"'],
  ["a = NULL", "(NULL outside IS NULL)", "NULL is only allowed"],
  ["a NOT = 1", "(NOT before a comparison operator)", "expected BETWEEN, LIKE or IN after NOT"],
  ["a == 1", "(double equals)", "expected an expression"],
  ["a != 1", "(!= is not an operator)", 'column 3: unexpected character "!"'],
  ["AND = 1", "(keyword as identifier)", 'expected an expression, found "AND"'],
  ["a = 1e", "(exponent without digits)", 'invalid numeric literal "1e"'],
  ["a = 09", "(bad octal)", 'invalid octal literal "09"'],
  ["a = 0x", "(hex without digits)", "invalid numeric literal"],
  ["a = 1.2.3", "(two decimal points)", "invalid numeric literal"],
  ["a = 1e999", "(number out of range)", "out of range"],
  ["'a' + 1 = 2", "(arithmetic on a string literal)", 'column 5: "+" needs numbers, found a string'],
  ["-'a' = 1", "(unary minus on a string literal)", '"-" needs numbers, found a string'],
  ["JMSPriority = 'high'", "(header of the wrong type)", '"=" cannot compare a number with a string'],
  ["'a' < 'b'", "(ordering strings)", '"<" needs numbers, found a string'],
  ["TRUE > FALSE", "(ordering booleans)", '">" needs numbers, found a boolean'],
  ["1 BETWEEN 'a' AND 'b'", "(BETWEEN on strings)", "BETWEEN needs numbers, found a string"],
  ["5 LIKE 'x'", "(LIKE on a number)", "LIKE needs a string, found a number"],
  ["JMSPriority IN ('a')", "(IN on a number header)", "IN needs a string, found a number"],
  ["NOT 5", "(NOT on a number)", "NOT needs a condition, found a number"],
  ["a = 1 AND 'x'", "(AND on a string)", "AND needs conditions, found a string"],
  ["weight + 1", "(a number is not a condition)", "column 1: the selector must be a condition"],
  ["'x'", "(a string is not a condition)", "the selector must be a condition, found a string"],
  [`a = '${"x".repeat(MAX_SELECTOR_LENGTH)}'`, "(too long)", `the limit is ${MAX_SELECTOR_LENGTH}`],
  ["(".repeat(deep) + "a = 1" + ")".repeat(deep), `(${deep} nested parentheses)`, "nesting is deeper"],
  ["NOT ".repeat(deep) + "a = 1", `(${deep} nested NOTs)`, "nesting is deeper than 100 levels"],
  ["a = " + "-".repeat(deep) + "1", `(${deep} nested unary minus signs)`, "nesting is deeper"],
  ["(".repeat(5000), "(5000 open parentheses)", "the limit is 4096"],
];

for (const [selector, why, fragment] of rejections) {
  const shown = selector.length > 40 ? selector.slice(0, 20) + "…" : selector;
  Deno.test(`compileSelector() rejects "${shown}" ${why}`, () => {
    assert.throws(() => compileSelector(selector), (e: unknown) => {
      assert.ok(isBrokerError(e, "invalid_selector"), `expected an invalid_selector error, got ${e}`);
      assert.ok(e.message.includes(fragment), `"${e.message}" does not include "${fragment}"`);
      return true;
    });
  });
}
