/**
 * sqlite-store: the embedded default store (see store.ts).
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import { definePlugin } from "../../mod.ts";
import { openSqliteStore } from "./store.ts";

export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from "./store.ts";

export default definePlugin<{ path: string; synchronous: "NORMAL" | "FULL" }>({
  name: "sqlite-store",
  async setup(ctx) {
    let path = ctx.options.path;
    if (path !== ":memory:" && !isAbsolute(path)) {
      await Deno.mkdir(ctx.dataDir, { recursive: true });
      path = join(ctx.dataDir, path);
    }
    const store = openSqliteStore(path, { synchronous: ctx.options.synchronous });
    ctx.provide("store", store);
    ctx.log.info(`store at ${path} (synchronous=${ctx.options.synchronous})`);
    return () => store.close();
  },
});
