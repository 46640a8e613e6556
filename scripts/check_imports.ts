/**
 * Fails when plugins/, console/ or examples/ import broker/ directly: plugins see only mod.ts.
 *
 * @module
 */
const roots = ["plugins", "console", "examples"];
const bad: string[] = [];
const pattern = /(?:from|import)\s*\(?\s*["']([^"']+)["']/g;

async function walk(dir: string): Promise<void> {
  let entries: AsyncIterable<Deno.DirEntry>;
  try {
    entries = Deno.readDir(dir);
  } catch {
    return;
  }
  try {
    for await (const e of entries) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (e.name !== "_islands" && e.name !== "node_modules") await walk(path);
      } else if (/\.(ts|tsx)$/.test(e.name)) {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(pattern)) {
          if (/(^|\/)broker\//.test(m[1]) && m[1].startsWith(".")) bad.push(`${path}: imports "${m[1]}"`);
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

for (const r of roots) await walk(r);
if (bad.length) {
  // deno-lint-ignore no-console
  console.error(`Plugins and the console must import only mod.ts:\n${bad.join("\n")}`);
  Deno.exit(1);
}
