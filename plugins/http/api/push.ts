/**
 * Push delivery: Server-Sent Events per destination, and one WebSocket endpoint speaking JSON frames
 * (subscribe, unsubscribe, ack, nack, publish), both with heart-beats. A durable SSE subscription
 * (`?durable=name`) resumes where it left off: events it delivered were acked, so what the client
 * missed is still queued; `Last-Event-ID` is echoed for clients that track it.
 *
 * @module
 */
import {
  type Delivery,
  type DestinationKind,
  isReject,
  type Session,
  type Subscription,
} from "../../../mod.ts";
import { fromEnvelope } from "../message_in.ts";
import { problem, rejectProblem } from "../problems.ts";
import type { HttpContext, Routes, ServeEnv } from "./context.ts";
import { deliveryJson } from "./message_out.ts";

const encoder = new TextEncoder();

/** Written events of one durable stream, kept so a reconnect with Last-Event-ID can replay them. */
const REPLAY = 1000;

/** A stream with client acks: its id goes out first, acks come back by message id. */
interface AckStream {
  readonly queue: string;
  readonly handed: Map<string, { sub: Subscription; tag: number }>;
}

/** Registers the SSE routes; WebSocket frames are handled by {@linkcode handleSocket}. */
export function pushRoutes(app: Routes, hc: HttpContext): void {
  const replay = new Map<string, { id: string; chunk: string }[]>();
  const ackStreams = new Map<string, AckStream>();

  app.get("/api/v1/:kind{queues|topics}/:name/events", async (c) => {
    const kind: DestinationKind = c.req.param("kind") === "queues" ? "queue" : "topic";
    const name = c.req.param("name");
    const durable = c.req.query("durable");
    const clientAck = c.req.query("ack") === "client";
    const lastId = c.req.header("last-event-id");
    const streamId = crypto.randomUUID();
    const ring = durable ? replay.get(durable) ?? [] : undefined;
    if (durable && ring) replay.set(durable, ring);
    // The stream exists before the subscription: a queue with messages delivers during subscribe().
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    let beat: ReturnType<typeof setInterval> | undefined;
    const held: { session?: Session } = {};
    const handed = new Map<string, { sub: Subscription; tag: number }>();
    const send = (chunk: string) => {
      if (!closed) controller.enqueue(encoder.encode(chunk));
    };
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
    if (isReject(opened)) return fail(rejectProblem(opened));
    const session = held.session = opened;
    const sub = await session.subscribe({
      kind,
      destination: name,
      selector: c.req.query("selector"),
      ack: durable || kind === "queue" || clientAck ? "client" : "auto",
      prefetch: durable || kind === "queue" || clientAck ? 100 : Infinity,
      durable: kind === "topic" && durable ? `$http.sse.${durable}` : undefined,
    });
    if (isReject(sub)) {
      await session.close("subscribe refused");
      return fail(rejectProblem(sub));
    }
    if (clientAck) ackStreams.set(streamId, { queue: name, handed });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" },
    });
  });

  app.post("/api/v1/:kind{queues|topics}/:name/events/:stream/ack", async (c) => {
    const s = ackStreams.get(c.req.param("stream"));
    if (!s || s.queue !== c.req.param("name")) {
      return problem("not_found", `No event stream "${c.req.param("stream")}"`);
    }
    const body = await c.req.json().catch(() => undefined) as {
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

interface WsFrame {
  op: "subscribe" | "unsubscribe" | "ack" | "nack" | "publish";
  id?: string;
  kind?: DestinationKind;
  destination?: string;
  selector?: string;
  ack?: "auto" | "client";
  durable?: string;
  ids?: string[];
  requeue?: boolean;
  message?: Record<string, unknown>;
}

/** Serves one WebSocket connection of the JSON push protocol. */
export async function handleSocket(
  socket: WebSocket,
  req: Request,
  env: ServeEnv,
  hc: HttpContext,
): Promise<void> {
  const subs = new Map<string, Subscription>();
  const handed = new Map<string, { sub: Subscription; tag: number }>();
  const out = (o: unknown) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(o));
  const session = await hc.session(req, env, {
    deliver(sub: Subscription, d: Delivery) {
      if (d.tag !== 0) handed.set(d.message.id, { sub, tag: d.tag });
      const id = [...subs].find(([, s]) => s === sub)?.[0];
      out({ op: "message", subscription: id, message: deliveryJson(d) });
    },
  });
  if (isReject(session)) {
    out({ op: "error", code: session.code, detail: session.reason });
    socket.close(4401, session.code);
    return;
  }
  const beat = setInterval(() => out({ op: "ping" }), hc.options.heartbeatMs);
  socket.onclose = () => {
    clearInterval(beat);
    void session.close("websocket closed");
  };
  socket.onmessage = async (e) => {
    let f: WsFrame;
    try {
      f = JSON.parse(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data));
    } catch {
      return out({ op: "error", code: "invalid_json", detail: "Frames are JSON objects" });
    }
    await handleFrame(session, f, subs, handed, out);
  };
}

async function handleFrame(
  session: Session,
  f: WsFrame,
  subs: Map<string, Subscription>,
  handed: Map<string, { sub: Subscription; tag: number }>,
  out: (o: unknown) => void,
): Promise<void> {
  switch (f.op) {
    case "subscribe": {
      if (!f.id || !f.destination) {
        return out({ op: "error", code: "invalid_argument", detail: "subscribe needs id and destination" });
      }
      const kind = f.kind ?? "topic";
      const sub = await session.subscribe({
        kind,
        destination: f.destination,
        selector: f.selector,
        ack: f.durable ? "client" : f.ack ?? (kind === "topic" ? "auto" : "client"),
        prefetch: !f.durable && (f.ack ?? (kind === "topic" ? "auto" : "client")) === "auto" ? Infinity : 100,
        // Resume: a durable subscription keeps what arrives while the socket is away; unacked
        // deliveries come back when it resubscribes.
        durable: kind === "topic" && f.durable ? `$http.ws.${f.durable}` : undefined,
      });
      if (isReject(sub)) return out({ op: "error", id: f.id, code: sub.code, detail: sub.reason });
      subs.set(f.id, sub);
      return out({ op: "subscribed", id: f.id });
    }
    case "unsubscribe": {
      const sub = f.id ? subs.get(f.id) : undefined;
      if (!sub) return out({ op: "error", code: "not_found", detail: `No subscription "${f.id}"` });
      subs.delete(f.id!);
      await sub.cancel();
      return out({ op: "unsubscribed", id: f.id });
    }
    case "ack":
    case "nack":
      for (const id of f.ids ?? []) {
        const h = handed.get(id);
        if (!h) continue;
        handed.delete(id);
        if (f.op === "ack") h.sub.ack([h.tag]);
        else h.sub.nack([h.tag], f.requeue !== false);
        h.sub.credit(1);
      }
      return;
    case "publish": {
      if (!f.destination) {
        return out({ op: "error", code: "invalid_argument", detail: "publish needs a destination" });
      }
      const init = fromEnvelope(
        { body: "", bodyEncoding: "utf8", ...(f.message ?? {}) } as never,
        f.kind ?? "topic",
        f.destination,
      );
      const r = await session.publish(init);
      return out(
        r ? { op: "error", id: f.id, code: r.code, detail: r.reason } : { op: "published", id: f.id },
      );
    }
    default:
      return out({
        op: "error",
        code: "invalid_argument",
        detail: `Unknown op "${(f as { op: string }).op}"`,
      });
  }
}

/** 405 for a known path with the wrong method. */
export const methodNotAllowed = (allowed: string): Response => {
  const r = problem("method_not_allowed", `Use ${allowed}`, 405);
  r.headers.set("allow", allowed);
  return r;
};
