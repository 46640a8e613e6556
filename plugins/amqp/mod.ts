/**
 * The AMQP 1.0 plugin on rhea in server mode. SASL PLAIN and ANONYMOUS ask the authenticate gate
 * ({@linkcode saslMechanisms}); the open then opens the core session. Each connection's links are handled
 * by {@linkcode AmqpLinks}. With `tls`, a second listener takes AMQPS connections (and SASL EXTERNAL from a
 * verified client certificate).
 *
 * @module
 */
import rhea from "rhea";
import {
  definePlugin,
  type DestinationKind,
  isReject,
  type Listening,
  listenTcp,
  listenTls,
  loadTls,
  type TcpIo,
  type TlsSettings,
} from "../../mod.ts";
import { formatAddress, parseAddress } from "./address_map.ts";
import { AmqpLinks, returnCredit } from "./links.ts";
import { AMQP_HEADER, frameGuard, protocolHeaderCheck } from "./frame_guard.ts";
import { type Peer, type SaslMechanism, saslMechanisms } from "./sasl.ts";
import { filterData, rheaSocket } from "./socket.ts";
import {
  coordinatorTarget,
  deferAttach,
  guardTransfers,
  isCoordinator,
  onBadInput,
  OVER_CREDIT,
  PAYLOAD,
  RECEIVED,
  type WithPayload,
} from "./rhea_ext.ts";

interface Options {
  port: number;
  hostname: string;
  io: TcpIo;
  tls?: TlsSettings & { port: number };
  defaultKind: DestinationKind;
  autoCreate: boolean;
  maxMessageSize: number;
  maxFrameSize: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  receiverCredit: number;
}

// deno-lint-ignore no-explicit-any
type Ctx = any;

export default definePlugin<Options>({
  name: "amqp",
  async setup(ctx) {
    const o = ctx.options;
    const broker = ctx.broker;
    ctx.provide("protocol:amqp", {
      protocol: "amqp",
      toAddress: (wire) =>
        parseAddress(wire, o.defaultKind)?.name ?? { code: "invalid_destination", reason: "Empty address" },
      fromAddress: (a) => formatAddress("topic", a),
    });
    // Producers' link credit is granted here, not by rhea's credit window (which re-grants as transfers
    // arrive): a message returns its credit once the broker has answered it, so `receiverCredit` bounds
    // the unconfirmed messages of a link, and a transfer beyond it is refused.
    // rhea reports a `modified` outcome as `released` unless told otherwise, which loses what the client
    // said about the delivery (failed, undeliverable here): our senders pass it on as it came.
    const container = rhea.create_container({
      id: `ferrymq-${broker.nodeId}`,
      autoaccept: false,
      credit_window: 0,
      treat_modified_as_released: false,
    } as Ctx);
    // Per connection; a promise because the session opens (and a client without a SASL layer is
    // authenticated) on open.
    const links = new Map<Ctx, Promise<AmqpLinks | undefined>>();
    // Who is on the other end of each connection.
    const peers = new WeakMap<Ctx, Peer>();
    const linkOptions = {
      defaultKind: o.defaultKind,
      autoCreate: o.autoCreate && broker.limits.autoCreate,
      queueExists: (name: string) => broker.destinations().some((d) => d.kind === "queue" && d.name === name),
      deleteQueue: (name: string) => broker.deleteDestination(name, "queue"),
      log: ctx.log,
    };
    const with_ = (c: Ctx, fn: (l: AmqpLinks) => unknown) =>
      links.get(c.connection)?.then((l) => l && fn(l)).catch((e) =>
        ctx.log.warn("amqp link error", { error: e })
      );

    container.on("connection_open", (c: Ctx) => {
      // With ANONYMOUS enabled rhea wraps the SASL layer in a selector: the mechanism is one level down.
      // A client that skipped SASL altogether has none, and the gate is asked now.
      const sasl = c.connection.sasl_transport;
      const mech: SaslMechanism | undefined = sasl?.mechanism ?? sasl?.selected?.mechanism;
      const sink = {
        deliver: (sub: Parameters<AmqpLinks["deliver"]>[0], d: Parameters<AmqpLinks["deliver"]>[1]) =>
          l?.deliver(sub, d),
        close: (reason: string) =>
          c.connection.close({ condition: "amqp:connection:forced", description: reason }),
      };
      let l: AmqpLinks | undefined;
      const ready = broker.openSession(
        {
          ...peers.get(c.connection)!,
          clientId: c.connection.remote?.open?.container_id ?? `amqp-${crypto.randomUUID()}`,
          protocol: "amqp",
          username: mech?.username,
        },
        sink,
        { principal: mech?.principal },
      )
        .then((session) => {
          if (isReject(session)) {
            const condition = session.code === "server_busy"
              ? "amqp:resource-limit-exceeded"
              : "amqp:unauthorized-access";
            c.connection.close({ condition, description: session.reason });
            return undefined;
          }
          l = new AmqpLinks(session, linkOptions);
          return l;
        });
      links.set(c.connection, ready);
    });
    // Receiving links are answered (attached) at once, before any transfer; sending links once their
    // subscription exists. A dynamic source gets its name here.
    container.on("receiver_open", (c: Ctx) => {
      guardTransfers(c.receiver, o.maxMessageSize);
      c.receiver.local.attach.max_message_size = o.maxMessageSize;
      c.receiver.add_credit(o.receiverCredit);
      // Echo the terminus: clients (qpid-proton) check that the attach answer names their target.
      const target = c.receiver.remote?.attach?.target;
      if (isCoordinator(target)) c.receiver.local.attach.target = coordinatorTarget();
      else c.receiver.set_target(target ?? {});
      c.receiver.set_source(c.receiver.remote?.attach?.source ?? {});
      if (!c.receiver.is_open()) c.receiver.open();
      with_(c, (l) => l.receiverOpened(c.receiver));
    });
    container.on("sender_open", (c: Ctx) => {
      const src = c.sender.remote?.attach?.source ?? {};
      const temp = src.dynamic ? `temp.${crypto.randomUUID()}` : undefined;
      c.sender.set_source(temp ? { ...src, address: `queue://${temp}`, dynamic: true } : src);
      c.sender.set_target(c.sender.remote?.attach?.target ?? {});
      // The settlement mode we send with is the one the receiver asked for (its subscription acks
      // pre-settled transfers as it delivers them): rhea sends settled transfers on a link whose attach says so.
      const mode = c.sender.remote?.attach?.snd_settle_mode;
      if (mode !== undefined) c.sender.local.attach.snd_settle_mode = mode;
      // The attach is answered once the subscription exists (`deferAttach`): a publish after it is not missed.
      with_(c, (l) => l.senderOpened(c.sender, c.connection.remote?.open?.container_id ?? "anonymous", temp));
    });
    container.on("message", (c: Ctx) => {
      if (c.receiver[OVER_CREDIT]) {
        const error = {
          condition: "amqp:link:transfer-limit-exceeded",
          description: "Transfer without link credit",
        };
        c.delivery.reject(error);
        c.receiver.close(error);
        return;
      }
      const size = c.delivery[RECEIVED] ?? (c.message as WithPayload)[PAYLOAD]?.length ?? 0;
      if (size > o.maxMessageSize) {
        c.delivery.reject({
          condition: "amqp:resource-limit-exceeded",
          description: `Message of ${size} bytes exceeds ${o.maxMessageSize}`,
        });
        return returnCredit(c.receiver);
      }
      with_(c, (l) => l.onMessage(c.receiver, c.delivery, c.message));
    });
    for (const outcome of ["accepted", "released", "rejected", "modified"] as const) {
      container.on(outcome, (c: Ctx) => with_(c, (l) => l.settled(c.delivery, outcome)));
    }
    container.on("transactional_state", (c: Ctx) => with_(c, (l) => l.settledInTransaction(c.delivery)));
    container.on("sender_close", (c: Ctx) => with_(c, (l) => l.linkClosed(c.sender)));
    container.on("connection_close", (c: Ctx) => end(c.connection, "connection closed"));
    container.on("disconnected", (c: Ctx) => end(c.connection, "connection lost"));
    container.on("error", (e: unknown) => ctx.log.debug("amqp error", { error: e }));
    // Bad input from a peer is the peer's problem: rhea would print each one on the console.
    container.on(
      "protocol_error",
      (e: unknown) => ctx.log.debug("amqp protocol error", { error: String(e) }),
    );

    /**
     * What rhea may read of a connection's input: everything before the first frame over maxFrameSize, which
     * closes the connection with amqp:connection:framing-error instead of being buffered, and before a
     * protocol header we do not speak, which our header answers before the socket ends [2.2].
     */
    const admitFrames = (c: Ctx) => {
      const check = frameGuard(o.maxFrameSize);
      const header = protocolHeaderCheck();
      let refused = false;
      const refuseHeader = (ours: Uint8Array) => {
        ctx.log.debug("amqp protocol header refused", { remote: c.socket?.remoteAddress });
        c.socket?.write(ours);
        c.socket?.end();
      };
      return (bytes: Uint8Array): Uint8Array | undefined => {
        if (refused) return undefined;
        const answer = header(bytes);
        if (answer) {
          refused = true;
          refuseHeader(answer);
          return undefined;
        }
        const stop = check(bytes);
        if (!stop) return bytes;
        refused = true;
        if (stop.kind === "header") {
          // After SASL: what came before it (the SASL exchange) is answered first.
          setTimeout(() => refuseHeader(AMQP_HEADER), 0);
        } else {
          ctx.log.debug("amqp frame over max-frame-size", {
            remote: c.socket?.remoteAddress,
            size: stop.size,
          });
          refuse(c, {
            condition: "amqp:connection:framing-error",
            description: `Frame of ${stop.size} bytes exceeds max-frame-size ${o.maxFrameSize}`,
          });
        }
        return stop.offset > 0 ? bytes.subarray(0, stop.offset) : undefined;
      };
    };

    /**
     * Ends a connection over the peer's bad input with a close naming the error. rhea writes it on the next
     * tick, after what it read before the bad input; the connection ends after it, without waiting for the
     * peer's answer.
     */
    const refuse = (c: Ctx, error: { condition: string; description: string }) =>
      setTimeout(() => {
        c.close(error);
        endSoon(c);
      }, 0);
    /** Ends a connection after what rhea writes on this turn. */
    const endSoon = (c: Ctx) => setTimeout(() => c.socket?.end(), 0);

    // rhea reports dispositions that arrived with the close only when it next writes: let those
    // settle before the session returns unsettled messages to their queues.
    const end = (conn: unknown, reason: string) => {
      setTimeout(() => {
        const l = links.get(conn);
        if (!l) return;
        links.delete(conn);
        void l.then((x) => x?.close(reason));
      }, 0);
    };

    /** A new connection: our open's fields, and the end of one that does not open in time. */
    const connection = () => {
      const conn = container.create_connection({
        max_frame_size: o.maxFrameSize,
        ...(o.idleTimeoutMs > 0 ? { idle_time_out: o.idleTimeoutMs } : {}),
      } as Ctx);
      const timer = setTimeout(() => {
        if (!conn.is_remote_open()) conn.socket?.destroy();
      }, o.connectTimeoutMs);
      Deno.unrefTimer(timer);
      deferAttach(conn);
      onBadInput(conn, (e, layer) => {
        ctx.log.debug("amqp bad input", { remote: conn.socket?.remoteAddress, layer, error: e.message });
        // The SASL layer has no close: its failed outcome is on its way.
        if (layer === "sasl") return endSoon(conn);
        // The bad frame may be the peer's open: a close comes after an open, so ours goes first.
        if (!conn.remote?.open) conn.open();
        refuse(conn, { condition: e.condition, description: e.message });
      });
      return conn;
    };

    /**
     * Starts `conn` on `socket`. rhea reads the SASL mechanisms it offers from the container as it accepts,
     * and makes each with a factory that is not told whose connection it serves: so the container holds the
     * ones of the connection it accepts last, which know their client.
     */
    const accept = (conn: Ctx, socket: Ctx, peer: Peer) => {
      peers.set(conn, peer);
      // After a failed outcome, which rhea writes on this turn.
      container.sasl_server_mechanisms = saslMechanisms(broker, peer, () => endSoon(conn));
      conn.accept(socket);
    };

    const count = (listener: string) => () =>
      [...links.keys()].filter((c) => peers.get(c)?.listener === listener).length;
    const plain = listenTcp(broker, {
      name: "amqp:tcp",
      protocol: "amqp",
      port: o.port,
      hostname: o.hostname,
      io: o.io,
      connections: count("amqp:tcp"),
      onConnection: (t) => {
        const conn = connection();
        const socket = rheaSocket(t, admitFrames(conn));
        accept(conn, socket, { remote: t.remote, listener: "amqp:tcp" });
        socket.start();
      },
    });
    const port = plain.port;
    let secure: Listening | undefined;
    if (o.tls) {
      try {
        secure = await listenTls(broker, {
          name: "amqp:tls",
          protocol: "amqp",
          port: o.tls.port,
          hostname: o.hostname,
          tls: await loadTls(o.tls, ctx),
          connections: count("amqp:tls"),
          onSocket: (socket, peer) => {
            const conn = connection();
            filterData(socket, admitFrames(conn));
            accept(conn, socket, {
              remote: peer.remote,
              listener: "amqp:tls",
              certificateSubject: peer.certificateSubject,
            });
          },
        });
      } catch (e) {
        await plain.close();
        throw e;
      }
    }
    ctx.log.info(`listening on ${secure ? `${port}, ${secure.port}` : port}`);
    return async () => {
      await plain.close();
      for (const [conn, l] of links) {
        conn.close?.({ condition: "amqp:connection:forced", description: "broker stopping" });
        await (await l)?.close("broker stopping");
      }
      links.clear();
      await secure?.close();
    };
  },
});
