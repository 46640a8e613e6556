import assert from "node:assert/strict";
import { sourceHash } from "../../../console/build.ts";

Deno.test("console build: the source hash changes with any file inside a source directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferrymq-console-hash-" });
  try {
    const base = new URL(`file://${dir}/`);
    await Deno.mkdir(`${dir}/islands/nested`, { recursive: true });
    await Deno.writeTextFile(`${dir}/islands/A.tsx`, "one");
    await Deno.writeTextFile(`${dir}/islands/nested/B.ts`, "two");
    await Deno.writeTextFile(`${dir}/client.ts`, "boot");
    const sources = ["client.ts", "islands"];
    const first = await sourceHash(base, sources);
    assert.equal(await sourceHash(base, sources), first, "the same files give the same hash");
    await Deno.writeTextFile(`${dir}/islands/A.tsx`, "changed");
    const second = await sourceHash(base, sources);
    assert.notEqual(second, first, "an island changed");
    await Deno.writeTextFile(`${dir}/islands/nested/B.ts`, "changed");
    assert.notEqual(await sourceHash(base, sources), second, "a file two levels down changed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
