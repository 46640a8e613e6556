/**
 * The WebSocket endpoint: JSON frames (subscribe, unsubscribe, ack, nack, publish) checked against one
 * schema, whose `message` is the REST API's envelope; the server answers `subscribed`, `unsubscribed`,
 * `published` or `error`, delivers `message` frames and sends `ping` heart-beats. No frame ends the
 * connection: a bad frame, a refusal or a failure while handling it is answered with an `error` frame
 * carrying problem details.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { type Delivery, isReject, type Logger, type Session, type Subscription } from "../../../mod.ts";
import { Envelope, fromEnvelope } from "../message_in.ts";
import { issuesText, type ProblemCode, problemJson } from "../problems.ts";
import type { HttpContext, ServeEnv } from "./context.ts";
import { deliveryJson } from "./message_out.ts";

/** The client's name for a frame, echoed in the answer (and, for a subscription, in its deliveries). */
const FrameId = z.union([z.string().min(1), z.number()]);
type FrameId = z.infer<typeof FrameId>;
const Kind = z.enum(["queue", "topic"]).default("topic");

/** Every frame a client may send. */
const Frame = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("subscribe"),
    id: FrameId,
    kind: Kind,
    destination: z.string().min(1),
    selector: z.string().optional(),
    ack: z.enum(["auto", "client"]).optional(),
    durable: z.string().min(1).optional(),
  }),
  z.object({ op: z.literal("unsubscribe"), id: FrameId }),
  z.object({ op: z.literal(["ack", "nack"]), ids: z.array(z.string()), requeue: z.boolean().default(true) }),
  z.object({
    op: z.literal("publish"),
    id: FrameId.optional(),
    kind: Kind,
    destination: z.string().min(1),
    message: Envelope.prefault({}),
  }),
]);
type Frame = z.infer<typeof Frame>;

/** Serves one WebSocket connection of the JSON push protocol. */
export async function handleSocket(
  socket: WebSocket,
  req: Request,
  env: ServeEnv,
  hc: HttpContext,
): Promise<void> {
  const conn = new Connection(socket, hc.log);
  socket.binaryType = "arraybuffer";
  // Listening starts now: frames a client sends at once wait for the login instead of being lost, and a
  // socket that closes during it does not leave its session open.
  const early: unknown[] = [];
  let closed = false;
  socket.onmessage = (e) => early.push(e.data);
  socket.onclose = () => closed = true;
  const session = await hc.session(req, env, { deliver: (sub, d) => conn.deliver(sub, d) });
  if (isReject(session)) {
    conn.error(undefined, session.code, session.reason);
    socket.close(4401, session.code);
    return;
  }
  if (closed) return void session.close("websocket closed");
  conn.session = session;
  const beat = setInterval(() => conn.send({ op: "ping" }), hc.options.heartbeatMs);
  socket.onclose = () => {
    clearInterval(beat);
    void session.close("websocket closed");
  };
  socket.onmessage = (e) => void conn.receive(e.data);
  for (const data of early) void conn.receive(data);
}

/** One connection's subscriptions and unsettled deliveries. */
class Connection {
  session!: Session;
  readonly #socket: WebSocket;
  readonly #log: Logger;
  readonly #subs = new Map<FrameId, Subscription>();
  readonly #ids = new Map<Subscription, FrameId>();
  /** Message id -> where to settle it, for client-acked deliveries. */
  readonly #handed = new Map<string, { sub: Subscription; tag: number }>();
  /** Deliveries made inside subscribe() (a queue that holds messages): sent after `subscribed`. */
  readonly #early = new Map<Subscription, Delivery[]>();

  constructor(socket: WebSocket, log: Logger) {
    this.#socket = socket;
    this.#log = log;
  }

  send(frame: unknown): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(frame));
  }

  /** An error frame: problem details, the core code and the id of the frame it answers. */
  error(id: FrameId | undefined, code: ProblemCode, detail: string, status?: number): void {
    this.send({ op: "error", id, code, ...problemJson(code, detail, status) });
  }

  deliver(sub: Subscription, d: Delivery): void {
    if (d.tag !== 0) this.#handed.set(d.message.id, { sub, tag: d.tag });
    const id = this.#ids.get(sub);
    if (id === undefined) {
      const early = this.#early.get(sub);
      if (early) early.push(d);
      else this.#early.set(sub, [d]);
      return;
    }
    this.#message(id, d);
  }

  #message(subscription: FrameId, d: Delivery): void {
    this.send({ op: "message", subscription, message: deliveryJson(d) });
  }

  /** Parses, checks and handles one frame; never throws. */
  async receive(data: unknown): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer));
    } catch {
      return this.error(undefined, "invalid_json", "Frames are JSON objects");
    }
    const parsed = Frame.safeParse(raw);
    if (!parsed.success) {
      const id = FrameId.safeParse((raw as { id?: unknown } | null)?.id).data;
      const inMessage = parsed.error.issues.some((i) => i.path[0] === "message");
      return this.error(
        id,
        inMessage ? "invalid_message" : "invalid_argument",
        issuesText(parsed.error.issues),
      );
    }
    const f = parsed.data;
    try {
      await this.#handle(f);
    } catch (e) {
      this.#log.error("websocket frame failed", { op: f.op, error: e });
      this.error("id" in f ? f.id : undefined, "server_busy", "Internal error", 500);
    }
  }

  async #handle(f: Frame): Promise<void> {
    switch (f.op) {
      case "subscribe": {
        // A second subscription under the same id would leave the first running with nothing to stop it.
        if (this.#subs.has(f.id)) return this.error(f.id, "conflict", `Subscription "${f.id}" exists`);
        const ack = f.durable ? "client" : f.ack ?? (f.kind === "topic" ? "auto" : "client");
        const sub = await this.session.subscribe({
          kind: f.kind,
          destination: f.destination,
          selector: f.selector,
          ack,
          prefetch: ack === "auto" ? Infinity : 100,
          // Resume: a durable subscription keeps what arrives while the socket is away; unacked
          // deliveries come back when it resubscribes.
          // The user's own: another user naming the same durable subscription gets another one.
          durable: f.kind === "topic" && f.durable
            ? `$http.ws.${encodeURIComponent(this.session.principal.id)}.${f.durable}`
            : undefined,
        });
        if (isReject(sub)) return this.error(f.id, sub.code, sub.reason);
        this.#subs.set(f.id, sub);
        this.#ids.set(sub, f.id);
        this.send({ op: "subscribed", id: f.id });
        const early = this.#early.get(sub) ?? [];
        this.#early.delete(sub);
        for (const d of early) this.#message(f.id, d);
        return;
      }
      case "unsubscribe": {
        const sub = this.#subs.get(f.id);
        if (!sub) return this.error(f.id, "not_found", `No subscription "${f.id}"`);
        this.#subs.delete(f.id);
        await sub.cancel(); // deliveries until it is done still name the subscription
        this.#ids.delete(sub);
        return this.send({ op: "unsubscribed", id: f.id });
      }
      case "ack":
      case "nack":
        for (const id of f.ids) {
          const h = this.#handed.get(id);
          if (!h) continue;
          this.#handed.delete(id);
          if (f.op === "ack") h.sub.ack([h.tag]);
          else h.sub.nack([h.tag], f.requeue);
          h.sub.credit(1);
        }
        return;
      case "publish": {
        const r = await this.session.publish(fromEnvelope(f.message, f.kind, f.destination));
        return r ? this.error(f.id, r.code, r.reason) : this.send({ op: "published", id: f.id });
      }
    }
  }
}
