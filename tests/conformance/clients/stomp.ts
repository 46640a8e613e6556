/**
 * STOMP 1.2 (@stomp/stompjs over TCP) in the cross-protocol matrix: `/queue/<name>` and
 * `/topic/<name>`, headers for priority, group (`JMSXGroupID`), expiry (`expires`, absolute), delay
 * (`delay`), persistence; every SEND asks for a RECEIPT so `send` resolves on the broker's
 * confirmation. Consumers use `client-individual` acks with `prefetch-count` as the window.
 *
 * @module
 */
import { Client, type IMessage } from "@stomp/stompjs";
import { TCPWrapper } from "@stomp/tcp-wrapper";
import type { TestBroker } from "../../helpers/broker.ts";
import { deferred, within } from "../../helpers/wait.ts";
import type { Dest, Outgoing, ProtocolClient } from "../matrix.ts";

let seq = 0;

async function connect(tb: TestBroker): Promise<Client> {
  const connected = deferred<void>();
  const client = new Client({
    webSocketFactory: () => new TCPWrapper("127.0.0.1", tb.ports["stomp:tcp"]),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    onConnect: () => connected.resolve(),
    onStompError: (f) => connected.reject(new Error(f.headers.message)),
  });
  client.activate();
  await within(connected.promise, 5000, "STOMP CONNECTED");
  return client;
}

const wire = (d: Dest) => `/${d.kind}/${d.name}`;

function headers(m: Outgoing): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.properties ?? {})) h[k] = String(v);
  h.persistent = String(m.persistent === true);
  if (m.priority !== undefined) h.priority = String(m.priority);
  if (m.groupId !== undefined) h.JMSXGroupID = m.groupId;
  if (m.ttl) h.expires = String(Date.now() + m.ttl);
  if (m.delay) h.delay = String(m.delay);
  return h;
}

function send(client: Client, dest: Dest, m: Outgoing): Promise<void> {
  const receipt = `mx-${++seq}`;
  const done = deferred<void>();
  client.watchForReceipt(receipt, () => done.resolve());
  client.publish({ destination: wire(dest), body: m.body, headers: { ...headers(m), receipt } });
  return within(done.promise, 5000, `RECEIPT ${receipt}`);
}

/** stompjs as producer and consumer. */
export const client: ProtocolClient = {
  name: "stomp",
  plugins: [{ use: "stomp", options: { port: 0, wsPort: 0, hostname: "127.0.0.1", heartBeatMs: 0 } }],
  typedProperties: false,
  async producer(tb) {
    const c = await connect(tb);
    return {
      send: (dest, m) => send(c, dest, m),
      sendMany: (dest, ms) => Promise.all(ms.map((m) => send(c, dest, m))).then(() => {}),
      close: () => c.deactivate(),
    };
  },
  async consume(tb, dest, opts, onMessage) {
    const c = await connect(tb);
    const h: Record<string, string> = {
      ack: "client-individual",
      "prefetch-count": String(opts.pull ? 1 : opts.prefetch ?? 100),
    };
    if (opts.selector) h.selector = opts.selector;
    c.subscribe(wire(dest), (m: IMessage) => {
      onMessage({ body: m.body, properties: { ...m.headers } });
      m.ack();
    }, h);
    return { close: () => c.deactivate() };
  },
};
