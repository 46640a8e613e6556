/**
 * The protocol clients of the cross-protocol matrix. "embedded" (broker.publish / broker.subscribe)
 * is always present; a wire protocol joins when its plugin folder exists in plugins/.
 *
 * @module
 */
import { existsSync } from "node:fs";
import type { Message, MessageInit } from "../../mod.ts";
import type { Dest, Incoming, Outgoing, ProtocolClient } from "./matrix.ts";

const decoder = new TextDecoder();

function incoming(m: Message): Incoming {
  return { body: decoder.decode(m.body), properties: { ...m.properties } };
}

/** MessageInit for an Outgoing: the fields every protocol maps onto. */
export function toInit(dest: Dest, m: Outgoing): MessageInit {
  return {
    destination: dest.name,
    kind: dest.kind,
    body: m.body,
    properties: m.properties,
    priority: m.priority,
    groupId: m.groupId,
    ttl: m.ttl,
    delay: m.delay,
    persistent: m.persistent ?? false,
  };
}

/** In-process producer and consumer through the Broker object. */
export const embedded: ProtocolClient = {
  name: "embedded",
  plugins: [],
  producer(tb) {
    return Promise.resolve({
      send: (dest, m) => tb.broker.publish(toInit(dest, m)),
      sendMany: (dest, ms) => Promise.all(ms.map((m) => tb.broker.publish(toInit(dest, m)))).then(() => {}),
      close: () => Promise.resolve(),
    });
  },
  async consume(tb, dest, opts, onMessage) {
    // Pull: credit 1, one more after each message is handled (a receive() loop).
    const sub = await tb.broker.subscribe(
      {
        kind: dest.kind,
        destination: dest.name,
        selector: opts.selector,
        prefetch: opts.pull ? 1 : opts.prefetch,
      },
      (d, s) => {
        onMessage(incoming(d.message));
        s.ack([d.tag]);
        // Credit is explicit in the core: give back one per handled message (a prefetch window).
        queueMicrotask(() => s.credit(1));
      },
    );
    return { close: () => sub.cancel() };
  },
};

const present = (name: string) => existsSync(new URL(`../../plugins/${name}/plugin.json`, import.meta.url));

/** Clients whose plugins are present, embedded first. */
export async function clients(): Promise<ProtocolClient[]> {
  const out: ProtocolClient[] = [embedded];
  for (
    const [plugin, mod] of [["mqtt", "./clients/mqtt.ts"], ["amqp", "./clients/amqp.ts"], [
      "stomp",
      "./clients/stomp.ts",
    ], ["http", "./clients/http.ts"]]
  ) {
    if (!present(plugin)) continue;
    const url = new URL(mod, import.meta.url);
    if (!existsSync(url)) continue;
    out.push((await import(url.href)).client as ProtocolClient);
  }
  return out;
}
