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

/** Registers the SSE routes; WebSocket frames are handled by {@linkcode handleSocket}. */
export function pushRoutes(app: Routes, hc: HttpContext): void {
  app.get("/api/v1/:kind{queues|topics}/:name/events", async (c) => {
    const kind: DestinationKind = c.req.param("kind") === "queues" ? "queue" : "topic";
    const name = c.req.param("name");
    const durable = c.req.query("durable");
    // The stream exists before the subscription: a queue with messages delivers during subscribe().
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    let beat: ReturnType<typeof setInterval> | undefined;
    const held: { session?: Session } = {};
    const send = (chunk: string) => {
      if (!closed) controller.enqueue(encoder.encode(chunk));
    };
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        controller = ctrl;
        send(
          `: subscribed ${name}${
            c.req.header("last-event-id") ? ` after ${c.req.header("last-event-id")}` : ""
          }\n\n`,
        );
        beat = setInterval(() => send(": heartbeat\n\n"), hc.options.heartbeatMs);
      },
      cancel() {
        closed = true;
        clearInterval(beat);
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
        send(`id: ${d.message.id}\nevent: message\ndata: ${JSON.stringify(deliveryJson(d))}\n\n`);
        if (d.tag !== 0) {
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
      ack: durable || kind === "queue" ? "client" : "auto",
      prefetch: durable || kind === "queue" ? 100 : Infinity,
      durable: kind === "topic" && durable ? `$http.sse.${durable}` : undefined,
    });
    if (isReject(sub)) {
      await session.close("subscribe refused");
      return fail(rejectProblem(sub));
    }
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" },
    });
  });
}

interface WsFrame {
  op: "subscribe" | "unsubscribe" | "ack" | "nack" | "publish";
  id?: string;
  kind?: DestinationKind;
  destination?: string;
  selector?: string;
  ack?: "auto" | "client";
  ids?: string[];
  requeue?: boolean;
  message?: Record<string, unknown>;
}

/** Serves one WebSocket connection of the JSON push protocol. */
export async function handleSocket(
  socket: WebSocket,
  req: Request,
  remote: string,
  hc: HttpContext,
): Promise<void> {
  const subs = new Map<string, Subscription>();
  const handed = new Map<string, { sub: Subscription; tag: number }>();
  const out = (o: unknown) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(o));
  const session = await hc.session(req, { remote }, {
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
        ack: f.ack ?? (kind === "topic" ? "auto" : "client"),
        prefetch: (f.ack ?? (kind === "topic" ? "auto" : "client")) === "auto" ? Infinity : 100,
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
