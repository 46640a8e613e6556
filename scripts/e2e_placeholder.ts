// deno-lint-ignore no-console
console.log(
  "No browser or interop tests exist yet: the console and the interop suites have not landed.\n0 passed, 0 failed",
);
