/**
 * `deno task bench <suite> [args]`: runs one benchmark suite from scripts/bench/<suite>.ts.
 * Micro benchmarks (`*_bench.ts`) run with `deno bench scripts/bench/`.
 *
 * @module
 */
const suite = Deno.args[0];
const suites: string[] = [];
for await (const e of Deno.readDir(new URL("./bench/", import.meta.url))) {
  if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_bench.ts")) suites.push(e.name.slice(0, -3));
}
suites.sort();
if (!suite || !suites.includes(suite)) {
  // deno-lint-ignore no-console
  console.error(`usage: deno task bench <suite> [args]\nsuites: ${suites.join(", ")}`);
  Deno.exit(suite ? 1 : 0);
}
const mod = await import(`./bench/${suite}.ts`);
await mod.main(Deno.args.slice(1));
