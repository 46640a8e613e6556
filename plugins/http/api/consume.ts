/**
 * Pull consumers: create with a selector, prefetch and lease; long-poll for messages; ack or nack by
 * message id; an idle lease expires and its unacked messages go back to the queue.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { type Delivery, isReject, type Session, type Subscription } from "../../../mod.ts";
import { problem, rejectProblem } from "../problems.ts";
import { documentedBody, jsonBody } from "./body.ts";
import type { HttpContext, Routes } from "./context.ts";
import { deliveryJson, OutMessage } from "./message_out.ts";

interface Consumer {
  readonly id: string;
  readonly queue: string;
  readonly session: Session;
  sub?: Subscription;
  readonly buffer: Delivery[];
  /** Message id -> delivery tag, for messages handed to the client and not yet settled. */
  readonly handed: Map<string, number>;
  /** Fetches waiting for a message: each arrival wakes them all. */
  readonly waiters: Set<() => void>;
  lease: ReturnType<typeof setTimeout>;
  readonly leaseMs: number;
  /** Fetches waiting for messages: the lease does not run while there are any. */
  polls: number;
}

const Id = z.object({ name: z.string().min(1), id: z.string() });
const Options = z.object({
  selector: z.string().optional(),
  prefetch: z.number().int().min(1).max(10_000).default(100),
  // At most what a timer holds: a longer one fires at once (and Deno warns).
  ackTimeoutMs: z.number().int().min(100).max(2 ** 31 - 1).optional().describe(
    "Lease: idle time before the consumer closes",
  ),
});
const Settle = z.object({ ids: z.array(z.string()).min(1), requeue: z.boolean().default(true) });
const Problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string() });
const p404 = {
  404: { description: "Unknown consumer", content: { "application/problem+json": { schema: Problem } } },
};

/** Registers the consumer routes; returns a function closing every consumer. */
export function consumeRoutes(app: Routes, hc: HttpContext): () => Promise<void> {
  const consumers = new Map<string, Consumer>();

  const drop = async (c: Consumer, why: string) => {
    consumers.delete(c.id);
    clearTimeout(c.lease);
    for (const wake of c.waiters) wake();
    await c.session.close(why); // unacked messages go back to the queue
  };
  // A consumer is idle only while no fetch waits: a long-poll longer than the lease keeps it.
  const touch = (c: Consumer) => {
    clearTimeout(c.lease);
    if (c.polls === 0 && consumers.get(c.id) === c) {
      c.lease = setTimeout(() => void drop(c, "lease expired"), c.leaseMs);
    }
  };
  const find = (name: string, id: string) => {
    const c = consumers.get(id);
    return c && c.queue === name ? c : undefined;
  };
  /** Resolves when a message reaches the consumer's buffer, or after `ms`. */
  const arrival = (c: Consumer, ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        c.waiters.delete(done);
        resolve();
      }
      c.waiters.add(done);
    });
  const unknown = (name: string, id: string) =>
    problem("not_found", `No consumer "${id}" on queue "${name}"`);

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/queues/{name}/consumers",
      summary: "Create a pull consumer",
      request: {
        params: z.object({ name: z.string().min(1) }),
        body: documentedBody(Options),
      },
      responses: {
        201: {
          description: "Created",
          content: { "application/json": { schema: z.object({ id: z.string() }) } },
        },
        400: {
          description: "Bad selector or destination",
          content: { "application/problem+json": { schema: Problem } },
        },
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const opts = await jsonBody(c.req.raw, Options, hc.body);
      if (opts instanceof Response) return opts;
      const id = crypto.randomUUID();
      const holder: { consumer?: Consumer } = {};
      const session = await hc.session(c.req.raw, c.env, {
        deliver(_sub, d) {
          const con = holder.consumer!;
          con.buffer.push(d);
          for (const wake of con.waiters) wake();
        },
      });
      if (isReject(session)) return rejectProblem(session);
      const leaseMs = opts.ackTimeoutMs ?? hc.options.consumerLeaseMs;
      const consumer: Consumer = {
        id,
        queue: name,
        session,
        buffer: [],
        handed: new Map(),
        waiters: new Set(),
        leaseMs,
        lease: 0 as never,
        polls: 0,
      };
      holder.consumer = consumer;
      const sub = await session.subscribe({
        kind: "queue",
        destination: name,
        selector: opts.selector,
        prefetch: opts.prefetch,
      });
      if (isReject(sub)) {
        await session.close("subscribe refused");
        return rejectProblem(sub);
      }
      consumer.sub = sub;
      consumers.set(id, consumer);
      touch(consumer);
      return c.json({ id }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/queues/{name}/consumers/{id}/messages",
      summary: "Long-poll for up to max messages, waiting at most wait ms",
      request: {
        params: Id,
        query: z.object({
          max: z.coerce.number().int().min(1).max(1000).default(10),
          wait: z.coerce.number().int().min(0).max(60_000).default(0),
        }),
      },
      responses: {
        200: { description: "Messages", content: { "application/json": { schema: z.array(OutMessage) } } },
        ...p404,
      },
    }),
    async (c) => {
      const { name, id } = c.req.valid("param");
      const { max, wait } = c.req.valid("query");
      const con = find(name, id);
      if (!con) return unknown(name, id);
      if (con.buffer.length === 0 && wait > 0) {
        con.polls++;
        touch(con);
        await arrival(con, Math.min(wait, hc.options.maxWaitMs));
        con.polls--;
        // Closed while waiting (DELETE, shutdown): its messages went back to the queue.
        if (consumers.get(id) !== con) return unknown(name, id);
      }
      const out = con.buffer.splice(0, max);
      for (const d of out) con.handed.set(d.message.id, d.tag);
      touch(con);
      return c.json(out.map(deliveryJson), 200);
    },
  );

  for (const action of ["ack", "nack"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/api/v1/queues/{name}/consumers/{id}/${action}`,
        summary: action === "ack"
          ? "Acknowledge messages by id"
          : "Return messages to the queue (requeue=false dead-letters)",
        request: {
          params: Id,
          body: documentedBody(Settle),
        },
        responses: {
          200: {
            description: "Settled",
            content: { "application/json": { schema: z.object({ settled: z.number() }) } },
          },
          ...p404,
        },
      }),
      async (c) => {
        const { name, id } = c.req.valid("param");
        const con = find(name, id);
        if (!con) return unknown(name, id);
        const body = await jsonBody(c.req.raw, Settle, hc.body);
        if (body instanceof Response) return body;
        const { ids, requeue } = body;
        const tags: number[] = [];
        for (const mid of ids) {
          const tag = con.handed.get(mid);
          if (tag !== undefined) {
            con.handed.delete(mid);
            tags.push(tag);
          }
        }
        if (action === "ack") con.sub!.ack(tags);
        else con.sub!.nack(tags, requeue);
        con.sub!.credit(tags.length);
        touch(con);
        return c.json({ settled: tags.length }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/queues/{name}/consumers/{id}",
      summary: "Close a consumer; its unacked messages go back to the queue",
      request: { params: Id },
      responses: { 204: { description: "Closed" }, ...p404 },
    }),
    async (c) => {
      const { name, id } = c.req.valid("param");
      const con = find(name, id);
      if (!con) return unknown(name, id);
      await drop(con, "closed by client");
      return c.body(null, 204);
    },
  );

  return async () => {
    for (const c of [...consumers.values()]) await drop(c, "http stopping");
  };
}
