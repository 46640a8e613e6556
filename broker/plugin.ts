/**
 * {@linkcode definePlugin}: the identity function that gives plugin authors type inference.
 *
 * @module
 */
import type { Plugin } from "./api.ts";

/**
 * Declares a plugin. State belongs in setup's closure so one plugin can run as several instances.
 *
 * @example
 * ```ts
 * export default definePlugin<{ greeting: string }>({
 *   name: "hello",
 *   setup(ctx) {
 *     ctx.hooks.on("connected", (e) => ctx.log.info(`${ctx.options.greeting} ${e.client.clientId}`));
 *   },
 * });
 * ```
 */
export function definePlugin<O = Record<string, unknown>>(plugin: Plugin<O>): Plugin<O> {
  return plugin;
}
