/**
 * The console's message catalogs: every language has every key, with the same placeholders, and every
 * key is used (a key nothing renders is dead text to translate).
 */
import assert from "node:assert/strict";
import en from "../../console/locales/en.json" with { type: "json" };
import zhCN from "../../console/locales/zh-CN.json" with { type: "json" };

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

Deno.test("catalog: zh-CN has exactly the keys of en, each with the same placeholders", () => {
  const zh: Record<string, string> = zhCN;
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  for (const [key, text] of Object.entries(en)) {
    assert.deepEqual(placeholders(zh[key]), placeholders(text), key);
    assert.ok(zh[key].trim(), `${key} is translated`);
  }
});

Deno.test("catalog: every key is used by the console's sources", async () => {
  let sources = "";
  const walk = async (dir: URL) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && e.name !== "static" && e.name !== "locales") {
        await walk(new URL(`${e.name}/`, dir));
      } else if (/\.tsx?$/.test(e.name)) sources += await Deno.readTextFile(new URL(e.name, dir));
    }
  };
  await walk(new URL("../../console/", import.meta.url));
  // Keys built from a value (`nav.${id}`, `kind.${kind}`) count through their prefix.
  const prefixes = [...sources.matchAll(/`([\w.]+\.)\$\{/g)].map((m) => m[1]);
  const unused = Object.keys(en).filter((k) =>
    !sources.includes(`"${k}"`) && !prefixes.some((p) => k.startsWith(p))
  );
  assert.deepEqual(unused, []);
});
