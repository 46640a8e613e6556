/**
 * Deterministic fuzz input: a seeded PRNG and the random or mutated units the bad-input tests send.
 *
 * @module
 */

/** A seeded PRNG: `rnd(n)` is an integer in [0, n). The same seed gives the same sequence. */
export function prng(seed: number): (n: number) => number {
  return (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n; // the high bits: an LCG's low bits repeat with short periods
  };
}

/**
 * One fuzz unit: a third of the time 1..`maxGarbage` random bytes, otherwise a copy of one of `valid` with
 * 1..`maxMutations` bytes set at random.
 */
export function fuzzUnit(
  rnd: (n: number) => number,
  valid: readonly Uint8Array[],
  o: { maxGarbage: number; maxMutations: number },
): Uint8Array {
  if (rnd(3) === 0) return new Uint8Array(1 + rnd(o.maxGarbage)).map(() => rnd(256));
  const u = valid[rnd(valid.length)].slice();
  for (let k = 0, n = 1 + rnd(o.maxMutations); k < n; k++) u[rnd(u.length)] = rnd(256);
  return u;
}

/** Runs `body` with a seeded PRNG; a failure names the seed (FUZZ_SEED=<n> replays another one). */
export async function withSeed(
  defaultSeed: number,
  body: (rnd: (n: number) => number) => Promise<void>,
): Promise<void> {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? defaultSeed);
  try {
    await body(prng(seed));
  } catch (e) {
    throw new Error(`fuzz failed with seed ${seed} (FUZZ_SEED=${seed} replays it)`, { cause: e });
  }
}
