/**
 * Runs the cross-protocol matrix (./matrix.ts) for every pair of clients present and prints the
 * feature gaps, where a protocol cannot express a feature.
 *
 * @module
 */
import { clients } from "./matrix_clients.ts";
import { runPair } from "./matrix.ts";

const all = await clients();
const gaps: string[] = [];

for (const p of all) {
  for (const c of all) {
    Deno.test({
      name: `matrix: ${p.name} producer -> ${c.name} consumer`,
      fn: (t) => runPair(t, p, c, gaps),
    });
  }
}

Deno.test(`matrix: gaps among ${all.map((c) => c.name).join(", ")} are listed`, () => {
  // deno-lint-ignore no-console
  console.log(
    gaps.length === 0 ? "matrix gaps: none" : `matrix gaps (${gaps.length}):\n  ${gaps.join("\n  ")}`,
  );
});
