/**
 * The AMQP 1.0 plugin on rhea in server mode. SASL PLAIN and ANONYMOUS open the core session (the
 * authenticate gate decides); each connection's links are handled by {@linkcode AmqpLinks}.
 *
 * @module
 */
import rhea from "rhea";
import {
  type BrokerApi,
  type ClientInfo,
  definePlugin,
  type DestinationKind,
  isReject,
  type Session,
} from "../../mod.ts";
import { formatAddress, parseAddress } from "./address_map.ts";
import { AmqpLinks } from "./links.ts";

interface Options {
  port: number;
  hostname: string;
  defaultKind: DestinationKind;
  autoCreate: boolean;
  maxMessageSize: number;
  receiverCredit: number;
}

// deno-lint-ignore no-explicit-any
type Ctx = any;

/** A SASL mechanism that opens the core session while authenticating, so the gate runs once. */
function mechanism(broker: BrokerApi, plain: boolean) {
  return function () {
    return {
      outcome: undefined as boolean | undefined,
      username: undefined as string | undefined,
      session: undefined as Session | undefined,
      start(response: Uint8Array | undefined) {
        const parts = plain ? new TextDecoder().decode(response ?? new Uint8Array()).split("\0") : [];
        const client: ClientInfo = {
          clientId: `amqp-${crypto.randomUUID()}`,
          protocol: "amqp",
          remote: "",
          listener: "amqp:tcp",
          username: plain ? parts[1] : undefined,
          password: plain ? new TextEncoder().encode(parts[2] ?? "") : undefined,
        };
        return broker.openSession(client, { deliver: (sub, d) => this.sink?.deliver(sub, d) }).then((s) => {
          this.outcome = !isReject(s);
          this.username = client.username ?? "anonymous";
          if (!isReject(s)) this.session = s;
        });
      },
      sink: undefined as AmqpLinks | undefined,
    };
  };
}

export default definePlugin<Options>({
  name: "amqp",
  setup(ctx) {
    const o = ctx.options;
    const broker = ctx.broker;
    ctx.provide("protocol:amqp", {
      protocol: "amqp",
      toAddress: (wire) =>
        parseAddress(wire, o.defaultKind)?.name ?? { code: "invalid_destination", reason: "Empty address" },
      fromAddress: (a) => formatAddress("topic", a),
    });
    const container = rhea.create_container({ id: `ferrymq-${broker.nodeId}`, autoaccept: false });
    container.sasl_server_mechanisms.PLAIN = mechanism(broker, true);
    container.sasl_server_mechanisms.ANONYMOUS = mechanism(broker, false);
    const links = new Map<unknown, AmqpLinks>();
    const linkOptions = {
      defaultKind: o.defaultKind,
      autoCreate: o.autoCreate && broker.limits.autoCreate,
      queueExists: (name: string) => broker.destinations().some((d) => d.kind === "queue" && d.name === name),
      deleteQueue: (name: string) => broker.deleteDestination(name, "queue"),
      log: ctx.log,
    };
    const of = (c: Ctx) => links.get(c.connection);

    container.on("connection_open", (c: Ctx) => {
      const mech = c.connection.sasl_transport?.mechanism;
      const session: Session | undefined = mech?.session;
      if (!session) {
        c.connection.close({ condition: "amqp:unauthorized-access", description: "Not authenticated" });
        return;
      }
      const l = new AmqpLinks(session, linkOptions);
      mech.sink = l;
      links.set(c.connection, l);
    });
    container.on("receiver_open", (c: Ctx) => {
      c.receiver.set_credit_window?.(o.receiverCredit);
      of(c)?.receiverOpened(c.receiver);
    });
    container.on("sender_open", (c: Ctx) => {
      void of(c)?.senderOpened(c.sender, c.connection.remote?.open?.container_id ?? "anonymous").catch((e) =>
        ctx.log.warn("sender attach failed", { error: e })
      );
    });
    container.on("message", (c: Ctx) => {
      const size = c.delivery?.data?.length ?? 0;
      if (size > o.maxMessageSize) {
        c.delivery.reject({
          condition: "amqp:resource-limit-exceeded",
          description: `Message of ${size} bytes exceeds ${o.maxMessageSize}`,
        });
        return;
      }
      of(c)?.onMessage(c.receiver, c.delivery, c.message);
    });
    for (const outcome of ["accepted", "released", "rejected", "modified"] as const) {
      container.on(outcome, (c: Ctx) => of(c)?.settled(c.delivery, outcome));
    }
    container.on("sender_close", (c: Ctx) => void of(c)?.linkClosed(c.sender));
    container.on("connection_close", (c: Ctx) => end(c.connection, "connection closed"));
    container.on("disconnected", (c: Ctx) => end(c.connection, "connection lost"));
    container.on("error", (e: unknown) => ctx.log.debug("amqp error", { error: e }));

    const end = (conn: unknown, reason: string) => {
      const l = links.get(conn);
      if (!l) return;
      links.delete(conn);
      void l.close(reason);
    };

    return new Promise((resolve, reject) => {
      const server = container.listen({ port: o.port, host: o.hostname });
      server.once("error", reject);
      server.once("listening", () => {
        const port = (server.address() as { port: number }).port;
        const unregister = broker.registerListener({
          name: "amqp:tcp",
          protocol: "amqp",
          transport: "tcp",
          port,
          hostname: o.hostname,
          connections: () => links.size,
        });
        ctx.log.info(`listening on ${port}`);
        resolve(async () => {
          unregister();
          for (const [conn, l] of links) {
            // deno-lint-ignore no-explicit-any
            (conn as any).close?.({ condition: "amqp:connection:forced", description: "broker stopping" });
            await l.close("broker stopping");
          }
          links.clear();
          await new Promise<void>((r) => server.close(() => r()));
        });
      });
    });
  },
});
