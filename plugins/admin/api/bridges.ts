/**
 * The status of every bridge (bridge plugin instances), read-only.
 *
 * @module
 */
import type { AdminContext, Routes } from "./context.ts";
import { Bridge, route, z } from "./schemas.ts";

/** Registers the bridge status route. */
export function bridgeRoutes(app: Routes, ac: AdminContext): void {
  app.openapi(
    route({
      method: "get",
      path: "/bridges",
      summary: "Each bridge's connection, counters and forward rules (empty when none runs)",
      ok: [200, z.array(Bridge)],
    }),
    (c) => {
      const all = [...ac.bridges().values()].map((b) => b.status());
      return c.json(all.sort((a, b) => a.id.localeCompare(b.id)));
    },
  );
}
