/**
 * Connections (list, close), consumers, producers, and the producer -> destination -> consumer graph.
 *
 * @module
 */
import { type BrokerApi, matchesPattern } from "../../../mod.ts";
import { problem } from "../problems.ts";
import { type AdminContext, audit, type Routes } from "./context.ts";
import { Connection, Json, route, z } from "./schemas.ts";

interface Edge {
  from: string;
  to: string;
  rate: number;
}

/** Rates per edge need two readings; the last counters per edge are kept between calls. */
export class Topology {
  readonly #broker: BrokerApi;
  #last = new Map<string, { n: number; t: number }>();

  constructor(broker: BrokerApi) {
    this.#broker = broker;
  }

  graph(): { nodes: { id: string; type: string; label: string }[]; edges: Edge[] } {
    const b = this.#broker, now = Date.now();
    const nodes = new Map<string, { id: string; type: string; label: string }>();
    const edges: Edge[] = [];
    const next = new Map<string, { n: number; t: number }>();
    const rate = (key: string, n: number) => {
      next.set(key, { n, t: now });
      const prev = this.#last.get(key);
      return prev && now > prev.t ? Math.max(0, Math.round(((n - prev.n) * 1000) / (now - prev.t))) : 0;
    };
    const dest = (kind: string, name: string) => {
      const id = `d:${kind}:${name}`;
      if (!nodes.has(id)) nodes.set(id, { id, type: "destination", label: name });
      return id;
    };
    for (const d of b.destinations()) {
      // Subscription queues are drawn as the consumers' edge from their topic, not as destinations.
      if (d.kind === "queue" && (d.boundTo !== undefined || d.name.startsWith("$"))) continue;
      dest(d.kind, d.name);
    }
    for (const p of b.producers()) {
      const id = `p:${p.connectionId}`;
      nodes.set(id, { id, type: "producer", label: p.clientId });
      const to = dest(p.kind, p.destination);
      edges.push({ from: id, to, rate: rate(`${id}>${to}`, p.messages) });
    }
    const topics = [...nodes.values()].filter((n) => n.id.startsWith("d:topic:"));
    for (const c of b.consumers()) {
      const id = `c:${c.id}`;
      nodes.set(id, { id, type: "consumer", label: c.clientId });
      const from = c.kind === "queue"
        ? [dest("queue", c.destination)]
        : topics.filter((t) => matchesPattern(c.destination, t.label)).map((t) => t.id);
      if (from.length === 0) from.push(dest("topic", c.destination));
      for (const f of from) edges.push({ from: f, to: id, rate: rate(`${f}>${id}`, c.delivered) });
    }
    this.#last = next;
    return { nodes: [...nodes.values()], edges };
  }
}

/** Registers connection, consumer, producer and topology routes. */
export function clientRoutes(app: Routes, ac: AdminContext): void {
  const broker = ac.broker;
  const topology = new Topology(broker);

  app.openapi(
    route({
      method: "get",
      path: "/connections",
      summary: "Client connections",
      ok: [200, z.array(Connection)],
    }),
    (c) => c.json(broker.connections()),
  );

  app.openapi(
    route({
      method: "delete",
      path: "/connections/{id}",
      summary: "Close a client connection",
      params: z.object({ id: z.string().min(1) }),
      ok: [204],
      problems: [404],
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const before = broker.connections().find((x) => x.id === id);
      if (!before || !(await broker.closeConnection(id, "closed by an administrator"))) {
        return problem("not_found", `No connection "${id}"`);
      }
      audit(broker, c, { action: "connection.close", object: id, before, after: null });
      return new Response(null, { status: 204 });
    },
  );

  app.openapi(
    route({ method: "get", path: "/consumers", summary: "Open subscriptions", ok: [200, z.array(Json)] }),
    (c) => c.json(broker.consumers()),
  );

  app.openapi(
    route({
      method: "get",
      path: "/producers",
      summary: "What each connection published",
      ok: [200, z.array(Json)],
    }),
    (c) => c.json(broker.producers()),
  );

  app.openapi(
    route({
      method: "get",
      path: "/topology",
      summary: "Producers -> destinations -> consumers, with message rates",
      ok: [200, Json],
    }),
    (c) => c.json(topology.graph()),
  );
}
