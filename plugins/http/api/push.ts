/**
 * Push delivery by Server-Sent Events per destination, with heart-beats (the WebSocket endpoint is
 * socket.ts). A durable SSE subscription
 * (`?durable=name`) resumes where it left off: events it delivered were acked, so what the client
 * missed is still queued; `Last-Event-ID` is echoed for clients that track it.
 *
 * @module
 */
import {
  compileSelector,
  type DestinationKind,
  isBrokerError,
  isReject,
  type Session,
  type Subscription,
} from "../../../mod.ts";
import { problem, rejectProblem } from "../problems.ts";
import { readBody } from "./body.ts";
import type { HttpContext, Routes, ServeEnv } from "./context.ts";
import { deliveryJson } from "./message_out.ts";

const encoder = new TextEncoder();
const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  connection: "keep-alive",
};

/** Written events of one durable stream, kept so a reconnect with Last-Event-ID can replay them. */
const REPLAY = 1000;

/** A stream with client acks: its id goes out first, acks come back by message id. */
interface AckStream {
  readonly queue: string;
  readonly handed: Map<string, { sub: Subscription; tag: number }>;
}

/** Registers the SSE routes. */
export function pushRoutes(app: Routes, hc: HttpContext): void {
  const replay = new Map<string, { id: string; chunk: string }[]>();
  const ackStreams = new Map<string, AckStream>();

  app.get("/api/v1/:kind{queues|topics}/:name/events", async (c) => {
    const kind: DestinationKind = c.req.param("kind") === "queues" ? "queue" : "topic";
    const name = c.req.param("name");
    if (c.req.method === "HEAD") {
      return await head(c.req.raw, c.env as ServeEnv, kind, name, c.req.query("selector"));
    }
    const durable = c.req.query("durable");
    const clientAck = c.req.query("ack") === "client";
    const lastId = c.req.header("last-event-id");
    const streamId = crypto.randomUUID();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    let beat: ReturnType<typeof setInterval> | undefined;
    const held: { session?: Session } = {};
    const handed = new Map<string, { sub: Subscription; tag: number }>();
    const send = (chunk: string) => {
      if (!closed) controller.enqueue(encoder.encode(chunk));
    };
    let ring: { id: string; chunk: string }[] | undefined;
    const opened = await hc.session(c.req.raw, c.env as ServeEnv, {
      deliver(sub, d) {
        const chunk = `id: ${d.message.id}\nevent: message\ndata: ${JSON.stringify(deliveryJson(d))}\n\n`;
        send(chunk);
        if (ring) {
          ring.push({ id: d.message.id, chunk });
          if (ring.length > REPLAY) ring.splice(0, ring.length - REPLAY);
        }
        if (d.tag === 0) return;
        if (clientAck) handed.set(d.message.id, { sub, tag: d.tag });
        else {
          sub.ack([d.tag]); // written to the stream: at-most-once from here on
          sub.credit(1);
        }
      },
    });
    if (isReject(opened)) return rejectProblem(opened);
    const session = held.session = opened;
    // A durable stream is its user's: another user naming it gets one of their own, not this one's events.
    const owned = durable && `${encodeURIComponent(session.principal.id)}.${durable}`;
    if (owned) {
      ring = replay.get(owned) ?? [];
      replay.set(owned, ring);
    }
    // The stream exists before the subscription: a queue with messages delivers during subscribe().
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        controller = ctrl;
        send(`: subscribed ${name}\n\n`);
        if (clientAck) {
          send(
            `event: stream\ndata: ${
              JSON.stringify({
                id: streamId,
                ack: `/api/v1/${c.req.param("kind")}/${name}/events/${streamId}/ack`,
              })
            }\n\n`,
          );
        }
        // Resume: what was written after the client's last event may not have reached it.
        const from = ring && lastId ? ring.findIndex((e) => e.id === lastId) : -1;
        if (ring && from >= 0) { for (const e of ring.slice(from + 1)) send(e.chunk); }
        beat = setInterval(() => send(": heartbeat\n\n"), hc.options.heartbeatMs);
      },
      cancel() {
        closed = true;
        clearInterval(beat);
        ackStreams.delete(streamId);
        void held.session?.close("event stream closed");
      },
    });
    const fail = (r: Response) => {
      closed = true;
      clearInterval(beat);
      return r;
    };
    const sub = await session.subscribe({
      kind,
      destination: name,
      selector: c.req.query("selector"),
      ack: durable || kind === "queue" || clientAck ? "client" : "auto",
      prefetch: durable || kind === "queue" || clientAck ? 100 : Infinity,
      durable: kind === "topic" && owned ? `$http.sse.${owned}` : undefined,
    });
    if (isReject(sub)) {
      await session.close("subscribe refused");
      return fail(rejectProblem(sub));
    }
    if (clientAck) ackStreams.set(streamId, { queue: name, handed });
    return new Response(stream, { headers: SSE_HEADERS });
  });

  /**
   * HEAD: what a GET would answer (credentials, the right to subscribe, the selector), without the stream. No
   * body is ever read or cancelled, so a subscription would never close (and a queue's messages would stay
   * with it).
   */
  async function head(
    req: Request,
    env: ServeEnv,
    kind: DestinationKind,
    name: string,
    selector: string | undefined,
  ): Promise<Response> {
    const session = await hc.session(req, env);
    if (isReject(session)) return rejectProblem(session);
    const allowed = await session.authorize("subscribe", name, kind);
    if (allowed !== true) return rejectProblem(allowed);
    try {
      if (selector !== undefined) compileSelector(selector);
    } catch (e) {
      if (isBrokerError(e)) return problem(e.code, e.message);
      throw e;
    }
    return new Response(null, { headers: SSE_HEADERS });
  }

  app.post("/api/v1/:kind{queues|topics}/:name/events/:stream/ack", async (c) => {
    const s = ackStreams.get(c.req.param("stream"));
    if (!s || s.queue !== c.req.param("name")) {
      return problem("not_found", `No event stream "${c.req.param("stream")}"`);
    }
    const raw = await readBody(c.req.raw, hc.body);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(raw));
    } catch { /* not JSON: checked below like a body of the wrong shape */ }
    const body = parsed as {
      ids?: unknown;
      requeue?: boolean;
      nack?: boolean;
    } | undefined;
    if (!body || !Array.isArray(body.ids)) return problem("invalid_argument", 'The body is {"ids": [...]}');
    let settled = 0;
    for (const id of body.ids) {
      const h = s.handed.get(String(id));
      if (!h) continue;
      s.handed.delete(String(id));
      if (body.nack) h.sub.nack([h.tag], body.requeue !== false);
      else h.sub.ack([h.tag]);
      h.sub.credit(1);
      settled++;
    }
    return Response.json({ settled });
  });
}
