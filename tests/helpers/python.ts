/**
 * The Python interpreter that has Debian's python3-* packages (the system one, which may not be the
 * first python3 on PATH), and whether a module imports.
 *
 * @module
 */

/** Path of the interpreter to run. */
export const PYTHON: string = (() => {
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
})();

/** Whether `import <module>` works; prints a notice when it does not. */
export function hasPythonModule(module: string, pkg: string): boolean {
  try {
    if (new Deno.Command(PYTHON, { args: ["-c", `import ${module}`], stderr: "null" }).outputSync().success) {
      return true;
    }
  } catch { /* no python at all */ }
  // deno-lint-ignore no-console
  console.log(`notice: ${pkg} is not installed; its interop test is skipped`);
  return false;
}
