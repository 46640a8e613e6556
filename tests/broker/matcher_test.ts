import assert from "node:assert/strict";
import { isPattern, matchesPattern, validateName, validatePattern } from "../../broker/address.ts";
import { Matcher } from "../../broker/matcher.ts";

// [pattern, name, matches]
const CASES: [string, string, boolean][] = [
  ["a", "a", true],
  ["a", "b", false],
  ["a.b", "a.b", true],
  ["a.b", "a.b.c", false],
  ["a.b.c", "a.b", false],
  ["*", "a", true],
  ["*", "a.b", false],
  ["a.*", "a.b", true],
  ["a.*", "a", false],
  ["a.*", "a.b.c", false],
  ["*.b", "a.b", true],
  ["*.b", "a.c", false],
  ["a.*.c", "a.b.c", true],
  ["a.*.c", "a.b.d", false],
  ["a.*.*", "a.b.c", true],
  ["*.*.*", "a.b", false],
  [">", "a", true],
  [">", "a.b.c", true],
  ["a.>", "a", true],
  ["a.>", "a.b", true],
  ["a.>", "a.b.c.d", true],
  ["a.>", "b.c", false],
  ["a.b.>", "a.b", true],
  ["a.b.>", "a.c", false],
  ["a.*.>", "a.b.c", true],
  ["a.*.>", "a.b", true],
  ["a.*.>", "a", false],
  ["*.>", "a", true],
  [">", "$SYS.x", false],
  ["*.x", "$SYS.x", false],
  ["$SYS.>", "$SYS.x", true],
  ["$SYS.*", "$SYS.x", true],
  ["$SYS.x", "$SYS.x", true],
  ["a.$b", "a.$b", true],
  ["a.*", "a.$b", true],
  ["a/b", "a/b", true],
  ["a/b", "a.b", false],
  ["a*b", "a*b", true],
  ["a*b", "axb", false],
  ["ä.*", "ä.ö", true],
  [".a", ".a", true],
  ["*.a", ".a", true],
  ["a..b", "a..b", true],
  ["a.*.b", "a..b", true],
  ["a.>", "a.", true],
];

for (const [pattern, name, expected] of CASES) {
  Deno.test(`match() ${expected ? "finds" : "skips"} "${pattern}" for "${name}"`, () => {
    const m = new Matcher<string>();
    m.add(pattern, "s");
    assert.deepEqual(m.match(name), expected ? ["s"] : []);
    assert.equal(matchesPattern(pattern, name), expected);
  });
}

Deno.test('match() returns both subscribers for "a.b" when "a.*" and "a.>" exist', () => {
  const m = new Matcher<string>();
  m.add("a.*", "one");
  m.add("a.>", "rest");
  m.add("a.c", "other");
  assert.deepEqual([...m.match("a.b")].sort(), ["one", "rest"]);
});

Deno.test("match() returns a value once when several of its patterns match", () => {
  const m = new Matcher<string>();
  m.add("a.*", "s");
  m.add("a.>", "s");
  m.add("a.b", "s");
  assert.deepEqual(m.match("a.b"), ["s"]);
  assert.equal(m.size, 3);
});

Deno.test("add() of the same pair twice counts once; remove() prunes and invalidates the cache", () => {
  const m = new Matcher<string>();
  m.add("a.b", "s");
  m.add("a.b", "s");
  assert.equal(m.size, 1);
  assert.deepEqual(m.match("a.b"), ["s"]);
  assert.equal(m.remove("a.b", "s"), true);
  assert.equal(m.remove("a.b", "s"), false);
  assert.deepEqual(m.match("a.b"), []);
  assert.equal(m.size, 0);
  m.add("a.*", "t");
  assert.deepEqual(m.match("a.b"), ["t"], "cache invalidated by add");
});

Deno.test("match() results are frozen and the empty result is shared", () => {
  const m = new Matcher<string>();
  assert.equal(m.match("x"), m.match("y"));
  m.add("x", "s");
  assert.ok(Object.isFrozen(m.match("x")));
});

Deno.test("the literal cache stays bounded", () => {
  const m = new Matcher<number>({ cacheSize: 8 });
  m.add(">", 1);
  for (let i = 0; i < 100; i++) assert.deepEqual(m.match(`t${i}`), [1]);
});

Deno.test("the trie agrees with the linear matcher on random patterns and names", () => {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const tokens = ["a", "b", "c", "$s"];
  const name = () => Array.from({ length: 1 + rnd(4) }, () => tokens[rnd(tokens.length)]).join(".");
  const pattern = () => {
    const len = 1 + rnd(4);
    const lv = Array.from({ length: len }, () => (rnd(4) === 0 ? "*" : tokens[rnd(3)]));
    if (rnd(3) === 0) lv[len - 1] = ">";
    return lv.join(".");
  };
  const m = new Matcher<string>();
  const patterns = Array.from({ length: 200 }, pattern);
  for (const p of patterns) m.add(p, p);
  for (let i = 0; i < 3000; i++) {
    const n = name();
    const expected = [...new Set(patterns.filter((p) => matchesPattern(p, n)))].sort();
    assert.deepEqual([...m.match(n)].sort(), expected, `name ${n}`);
  }
});

Deno.test("validateName() accepts empty levels; rejects empty names, wildcards, control characters and oversize names", () => {
  validateName("a.b.c");
  validateName("$SYS.broker");
  assert.throws(() => validateName(""), { code: "invalid_destination" });
  validateName("a..b");
  validateName(".a");
  validateName("a.");
  assert.throws(() => validateName("a.*"), /wildcard "\*" in a name/);
  assert.throws(() => validateName(">"), /wildcard ">"/);
  assert.throws(() => validateName("a\u0000b"), /control character/);
  assert.throws(() => validateName("x".repeat(2000)), /longer than 1024/);
  assert.throws(() => validateName("a.b.c", { maxLength: 100, maxLevels: 2 }), /more than 2 levels/);
});

Deno.test("validatePattern() accepts whole-level wildcards and rejects a non-final >", () => {
  validatePattern("a.*.c");
  validatePattern("a.>");
  validatePattern(">");
  assert.throws(() => validatePattern("a.>.b"), /">" must be the last level/);
  validatePattern("a..>");
  assert.ok(isPattern("a.*") && isPattern(">") && isPattern("*.a") && !isPattern("a*b") && !isPattern("a.b"));
});
