/**
 * Bundles the islands for the browser with `deno bundle`: `client.ts` (the boot script) and every
 * `islands/*.tsx` as entry points, code-split so Preact and shared components load once.
 *
 * The output goes to `static/_islands/<id>/`, `<id>` being a hash of the sources the bundle depends on,
 * so a build is reused while nothing changed, a stale one is never served, and two brokers starting at
 * once cannot overwrite each other's files. `deno task build:console` runs it ahead of time.
 *
 * @module
 */

const consoleDir = new URL("./", import.meta.url);
const rootDir = new URL("../", consoleDir);
/** What the bundle is built from (and the stylesheet, whose URL carries the same id). */
const SOURCES = [
  "client.ts",
  "islands",
  "components",
  "lib",
  "locales",
  "static/styles.css",
  "../deno.json",
  "../deno.lock",
];
const OUT = new URL("static/_islands/", consoleDir);

/** A finished build, served at `/_islands/<id>/`. */
export interface IslandBuild {
  id: string;
  /** Directory holding client.js and islands/<Name>.js. */
  dir: string;
  /** Island names (file names without .tsx), as `data-island` uses them. */
  islands: string[];
}

async function* files(url: URL): AsyncGenerator<URL> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (info.isFile) {
    yield url;
    return;
  }
  const entries = [];
  for await (const e of Deno.readDir(url)) entries.push(e);
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  // Names resolve inside the directory only when its URL ends with a slash.
  const dir = url.href.endsWith("/") ? url : new URL(`${url.href}/`);
  for (const e of entries) yield* files(new URL(e.name, dir));
}

/** A hash of every file under `sources` (paths relative to `base`): names and contents. */
export async function sourceHash(
  base: URL = consoleDir,
  sources: readonly string[] = SOURCES,
): Promise<string> {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const s of sources) {
    for await (const f of files(new URL(s, base))) {
      parts.push(enc.encode(f.pathname), await Deno.readFile(f));
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Island names, checked against the convention the boot script relies on. */
async function islandNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const f of files(new URL("islands/", consoleDir))) {
    if (!f.pathname.endsWith(".tsx")) continue;
    const name = f.pathname.split("/").pop()!.replace(/\.tsx$/, "");
    const text = await Deno.readTextFile(f);
    // The server names an island by its component's function name; the file must match it.
    if (!new RegExp(`export default function ${name}\\b`).test(text)) {
      throw new Error(`console/islands/${name}.tsx must "export default function ${name}"`);
    }
    names.push(name);
  }
  return names;
}

/** Attempts at a build whose sources did not change while it ran (an editor saving mid-build). */
const MAX_ATTEMPTS = 3;

/** Builds the islands unless a build of the current sources exists; returns where it is. */
export async function buildIslands(): Promise<IslandBuild> {
  for (let attempt = 1;; attempt++) {
    const islands = await islandNames();
    const id = await sourceHash();
    const dir = new URL(`${id}/`, OUT);
    if (await exists(new URL("client.js", dir))) return { id, dir: dir.pathname, islands };
    await Deno.mkdir(OUT, { recursive: true });
    const tmp = await Deno.makeTempDir({ dir: OUT.pathname, prefix: ".build-" });
    try {
      await bundle(islands, tmp);
      // A build is filed under the hash of what it was built from; if a source changed while bundling,
      // neither the old nor the new hash names this output, so it is built again.
      if (await sourceHash() !== id || String(await islandNames()) !== String(islands)) {
        if (attempt < MAX_ATTEMPTS) continue;
        throw new Error("console sources kept changing while the islands were being built");
      }
      try {
        await Deno.rename(tmp, dir.pathname);
      } catch (e) {
        // Another process finished the same build first; its files are identical.
        if (!(await exists(dir))) throw e;
      }
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    await removeOldBuilds(id);
    return { id, dir: dir.pathname, islands };
  }
}

async function bundle(islands: string[], outdir: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--config",
      new URL("deno.json", rootDir).pathname,
      "--platform=browser",
      "--format=esm",
      "--code-splitting",
      "--minify",
      "--outdir",
      outdir,
      "client.ts",
      ...islands.map((n) => `islands/${n}.tsx`),
    ],
    cwd: consoleDir.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno bundle failed (exit ${out.code}):\n${new TextDecoder().decode(out.stderr)}`);
  }
}

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds older than this are removed. Not sooner: another broker started from the same folder may still be
 * serving a build of the sources as they were when it started.
 */
const KEEP_OLD_BUILDS_MS = 24 * 60 * 60 * 1000;

/** Drops builds of older sources so the folder does not grow with every edit. */
async function removeOldBuilds(keep: string): Promise<void> {
  const cutoff = Date.now() - KEEP_OLD_BUILDS_MS;
  for await (const e of Deno.readDir(OUT)) {
    if (!e.isDirectory || e.name === keep || e.name.startsWith(".")) continue;
    const info = await Deno.stat(new URL(e.name, OUT)).catch(() => null);
    if (info?.mtime && info.mtime.getTime() < cutoff) {
      await Deno.remove(new URL(e.name, OUT), { recursive: true }).catch(() => {});
    }
  }
}

if (import.meta.main) {
  const b = await buildIslands();
  // deno-lint-ignore no-console
  console.log(`console islands ${b.id}: ${b.islands.join(", ")} -> ${b.dir}`);
}
