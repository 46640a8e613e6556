/**
 * Bridges (bridge plugin instances): every one's status, and adding and removing them while the broker
 * runs. Added ones are kept by the broker and come back after a restart; broker.json's are read-only here.
 * The bridge's options are checked by its own JSON Schema (plugins/bridge/plugin.json), so a refusal names
 * the option; the password never leaves in a response or an audit record.
 *
 * @module
 */
import { type BrokerApi, BrokerError, isBrokerError } from "../../../mod.ts";
import { errorProblem, problem } from "../problems.ts";
import { type AdminContext, audit, type Routes } from "./context.ts";
import type { BridgeStatus } from "../../bridge/mod.ts";
import { Bridge, NewBridge, route, z } from "./schemas.ts";
import { redact } from "./system.ts";

/** A bridge as the API shows it: its status, and whether it was added at runtime (so removable here). */
export type BridgeView = BridgeStatus & { readonly runtime: boolean };

function listBridges(ac: AdminContext): BridgeView[] {
  const runtime = new Set(ac.broker.plugins().filter((p) => p.runtime).map((p) => p.id));
  return [...ac.bridges().values()]
    .map((b) => ({ ...b.status(), runtime: runtime.has(b.status().id) }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The bridge instance of that id as the audit log records it: options with secrets masked. */
function auditView(broker: BrokerApi, id: string) {
  const p = broker.plugins().find((x) => x.id === id);
  return p && { id, options: redact(p.options) };
}

/** Registers the bridge routes. */
export function bridgeRoutes(app: Routes, ac: AdminContext): void {
  const broker = ac.broker;

  app.openapi(
    route({
      method: "get",
      path: "/bridges",
      summary: "Each bridge's connection, counters and forward rules (empty when none runs)",
      ok: [200, z.array(Bridge)],
    }),
    (c) => c.json(listBridges(ac)),
  );

  app.openapi(
    route({
      method: "post",
      path: "/bridges",
      summary: "Add a bridge to a peer; it is kept across restarts until deleted",
      body: NewBridge,
      ok: [201, Bridge],
      problems: [409],
    }),
    async (c) => {
      const { id, options } = c.req.valid("json");
      try {
        await ac.plugins.add({ use: "bridge", as: id, options });
      } catch (e) {
        // The schema's refusal names the option ("option "port" must be <= 65535"): the caller's mistake.
        if (isBrokerError(e, "plugin_options")) return problem("invalid_argument", e.message);
        return errorProblem(e);
      }
      audit(broker, c, {
        action: "bridge.create",
        object: `bridge:${id}`,
        before: null,
        after: auditView(broker, id),
      });
      return c.json(listBridges(ac).find((b) => b.id === id)!, 201);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/bridges/{id}",
      summary: "Remove a bridge added here (broker.json's cannot be)",
      params: z.object({ id: z.string().min(1) }),
      ok: [204],
      problems: [404, 409],
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const before = auditView(broker, id);
      try {
        if (before !== undefined && !ac.bridges().has(`bridge:${id}`)) {
          throw new BrokerError("not_found", `Cannot remove bridge "${id}": no such bridge`);
        }
        await ac.plugins.remove(id);
      } catch (e) {
        return errorProblem(e);
      }
      audit(broker, c, {
        action: "bridge.delete",
        object: `bridge:${id}`,
        before: before ?? null,
        after: null,
      });
      return new Response(null, { status: 204 });
    },
  );
}
