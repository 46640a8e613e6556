/**
 * `deno task bench amqp`: rhea clients against this broker in its own process (sqlite-store with group
 * commit): durable queue 1 -> 1 with a window of unsettled sends, non-durable 1 -> 1, topic 1 -> 10.
 *
 * @module
 */
import rhea from "rhea";
import { spawnBroker } from "./spawn.ts";

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);
// deno-lint-ignore no-explicit-any
type Any = any;

function connect(port: number): Promise<Any> {
  const conn = rhea.create_container({ id: `bench-${crypto.randomUUID()}` }).connect({
    port,
    host: "127.0.0.1",
    reconnect: false,
  });
  return new Promise((resolve) => conn.once("connection_open", () => resolve(conn)));
}

/** Sends n messages keeping `window` unsettled; resolves when all are accepted. */
function produce(conn: Any, address: string, n: number, window: number, durable: boolean): Promise<void> {
  const sender = conn.open_sender({ target: address, autosettle: true });
  let sent = 0, settled = 0;
  return new Promise((resolve) => {
    const pump = () => {
      while (sender.sendable() && sent < n && sent - settled < window) {
        sender.send({ body: "x".repeat(64), durable });
        sent++;
      }
    };
    sender.on("sendable", pump);
    sender.on("accepted", () => {
      if (++settled === n) resolve();
      else pump();
    });
  });
}

function consume(conn: Any, address: string, n: number): Promise<void> {
  let got = 0;
  return new Promise((resolve) => {
    const r = conn.open_receiver({ source: address, credit_window: 500 });
    r.on("message", () => {
      if (++got === n) resolve();
    });
  });
}

async function queueCase(port: number, n: number, durable: boolean): Promise<number> {
  const [p, c] = await Promise.all([connect(port), connect(port)]);
  const address = `queue://bench-${durable ? "d" : "n"}-${crypto.randomUUID()}`;
  const t0 = performance.now();
  await Promise.all([consume(c, address, n), produce(p, address, n, 1000, durable)]);
  const ms = performance.now() - t0;
  p.close();
  c.close();
  return n / ms * 1000;
}

async function topicCase(port: number, n: number, subs: number): Promise<number> {
  const consumers = await Promise.all(Array.from({ length: subs }, () => connect(port)));
  const done = consumers.map((c) => consume(c, "topic://bench.fan", n));
  await new Promise((r) => setTimeout(r, 300)); // let the subscriptions attach before the burst
  const p = await connect(port);
  const t0 = performance.now();
  await produce(p, "topic://bench.fan", n, 1000, false);
  await Promise.all(done);
  const ms = performance.now() - t0;
  p.close();
  for (const c of consumers) c.close();
  return n * subs / ms * 1000;
}

/** Runs the suite. */
export async function main(_args: string[]): Promise<void> {
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  const broker = await spawnBroker([
    { use: "sqlite-store", options: { synchronous: "NORMAL" } },
    { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } },
  ]);
  const port = broker.ports["amqp:tcp"];
  try {
    await queueCase(port, 2_000, true);
    print(`amqp benchmark, ${new Date().toISOString()}, Deno ${Deno.version.deno}`);
    print(
      `durable queue 1 -> 1, window 1,000 (confirmed and consumed): ${
        fmt(await queueCase(port, 50_000, true))
      } msgs/s  (target 15,000)`,
    );
    print(
      `non-durable queue 1 -> 1:                                 ${
        fmt(await queueCase(port, 50_000, false))
      } msgs/s`,
    );
    print(
      `topic 1 -> 10 (deliveries):                               ${
        fmt(await topicCase(port, 10_000, 10))
      } deliveries/s`,
    );
  } finally {
    await broker.stop();
  }
}
