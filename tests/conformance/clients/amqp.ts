/**
 * AMQP 1.0 (rhea) in the cross-protocol matrix: `queue://<name>` and `topic://<name>` addresses,
 * header fields for priority, durability and TTL, `group-id`, typed application properties,
 * `x-opt-delivery-delay` for delay; `send` resolves on the broker's accepted disposition. Receivers
 * use a JMS selector source filter, a credit window as prefetch, or credit 1 at a time for pull.
 *
 * @module
 */
import rhea from "rhea";
import { amqpClose, amqpConnect } from "../../helpers/amqp.ts";
import type { TestBroker } from "../../helpers/broker.ts";
import { within } from "../../helpers/wait.ts";
import type { Dest, Incoming, Outgoing, ProtocolClient } from "../matrix.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const decoder = new TextDecoder();

const connect = (tb: TestBroker) => amqpConnect(tb.ports["amqp:tcp"], {}, `mx-${crypto.randomUUID()}`);
const close = amqpClose;

const address = (d: Dest) => `${d.kind}://${d.name}`;

function message(m: Outgoing): Record<string, unknown> {
  return {
    body: m.body,
    durable: m.persistent === true,
    priority: m.priority,
    ttl: m.ttl,
    group_id: m.groupId,
    application_properties: m.properties ?? {},
    message_annotations: m.delay ? { "x-opt-delivery-delay": m.delay } : undefined,
  };
}

const text = (body: Any) =>
  typeof body === "string" ? body : decoder.decode(body?.content ?? body ?? new Uint8Array());

/** A sender per destination; sends resolve on their own disposition. */
class Producer {
  #conn: Any;
  #senders = new Map<string, Promise<Any>>();
  #pending = new Map<Any, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(conn: Any) {
    this.#conn = conn;
  }

  #sender(dest: Dest): Promise<Any> {
    let s = this.#senders.get(address(dest));
    if (!s) {
      const link = this.#conn.open_sender({ target: { address: address(dest) }, autosettle: true });
      const settle = (ok: boolean) => (c: Any) => {
        const p = this.#pending.get(c.delivery);
        this.#pending.delete(c.delivery);
        if (ok) p?.resolve();
        else p?.reject(new Error(`not accepted: ${JSON.stringify(c.delivery.remote_state?.error ?? "")}`));
      };
      link.on("accepted", settle(true));
      link.on("rejected", settle(false));
      link.on("released", settle(false));
      s = within(new Promise((resolve) => link.once("sendable", () => resolve(link))), 5000, "sendable");
      this.#senders.set(address(dest), s);
    }
    return s;
  }

  async send(dest: Dest, m: Outgoing): Promise<void> {
    const link = await this.#sender(dest);
    const settled = new Promise<void>((resolve, reject) => {
      const delivery = link.send(message(m));
      this.#pending.set(delivery, { resolve, reject });
    });
    await within(settled, 5000, "disposition");
  }
}

/** rhea as producer and consumer. */
export const client: ProtocolClient = {
  name: "amqp",
  plugins: [{ use: "amqp", options: { port: 0, hostname: "127.0.0.1" } }],
  async producer(tb) {
    const conn = await connect(tb);
    const p = new Producer(conn);
    return {
      send: (dest, m) => p.send(dest, m),
      sendMany: (dest, ms) => Promise.all(ms.map((m) => p.send(dest, m))).then(() => {}),
      close: () => close(conn),
    };
  },
  async consume(tb, dest, opts, onMessage) {
    const conn = await connect(tb);
    const window = opts.pull ? 0 : opts.prefetch ?? 100;
    const receiver = conn.open_receiver({
      source: {
        address: address(dest),
        filter: opts.selector ? rhea.filter.selector(opts.selector) : undefined,
      },
      credit_window: window,
      autoaccept: true,
    });
    receiver.on("message", (c: Any) => {
      const m: Incoming = { body: text(c.message.body), properties: { ...c.message.application_properties } };
      onMessage(m);
      // Pull: ask for the next message only after this one is handled.
      if (opts.pull) queueMicrotask(() => receiver.add_credit(1));
    });
    await within(new Promise((r) => receiver.once("receiver_open", r)), 5000, "receiver attach");
    if (opts.pull) receiver.add_credit(1);
    return { close: () => close(conn) };
  },
};
