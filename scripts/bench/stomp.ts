/**
 * `deno task bench stomp`: raw TCP STOMP load against this broker (in its own process, sqlite-store
 * with group commit): a persistent queue 1 -> 1 with receipts windowed, and topic 1 -> 10. ActiveMQ
 * or RabbitMQ are compared in the same run when one listens on 127.0.0.1:61613 before the run
 * (`PEER_STOMP_PORT` to point elsewhere); otherwise the peer column says so.
 *
 * @module
 */

import { spawnBroker } from "./spawn.ts";

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);
const enc = new TextEncoder();
const BODY = "x".repeat(64);
const PLUGINS = [
  { use: "sqlite-store", options: { synchronous: "NORMAL" } },
  { use: "stomp", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", heartBeatMs: 0 } },
];

/** A raw STOMP connection that counts frames by command. */
async function stomp(port: number, onFrame: (command: string, headers: string) => void) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const write = async (s: string) => {
    const b = enc.encode(s);
    for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
  };
  let connected!: () => void;
  const ready = new Promise<void>((r) => connected = r);
  (async () => {
    const buf = new Uint8Array(256 * 1024);
    let pending = "";
    const dec = new TextDecoder();
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        pending += dec.decode(buf.subarray(0, n), { stream: true });
        let nul;
        while ((nul = pending.indexOf("\0")) >= 0) {
          const frame = pending.slice(0, nul).replace(/^\n+/, "");
          pending = pending.slice(nul + 1);
          const nl = frame.indexOf("\n");
          const command = frame.slice(0, nl);
          if (command === "CONNECTED") connected();
          else onFrame(command, frame.slice(nl + 1, frame.indexOf("\n\n")));
        }
      }
    } catch { /* closed */ }
  })();
  await write("CONNECT\naccept-version:1.2\nhost:bench\n\n\0");
  await ready;
  return { write, close: () => conn.close() };
}

async function persistentQueue(port: number, n: number, window: number): Promise<number> {
  let consumed = 0, receipts = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const consumer = await stomp(port, (cmd, headers) => {
    if (cmd !== "MESSAGE") return;
    const ack = /\nack:([^\n]*)/.exec("\n" + headers)![1];
    // Not awaited, so an ACK may still be on its way when the run closes the connection.
    consumer.write(`ACK\nid:${ack.replace(/\\c/g, ":")}\n\n\0`).catch(() => {});
    if (++consumed === n) done();
  });
  await consumer.write(
    "SUBSCRIBE\nid:1\ndestination:/queue/bench\nack:client-individual\nprefetch-count:1000\n\n\0",
  );
  let wake: (() => void) | undefined;
  const producer = await stomp(port, (cmd) => {
    if (cmd === "RECEIPT") {
      receipts++;
      wake?.();
    }
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    while (i - receipts >= window) await new Promise<void>((r) => wake = r);
    await producer.write(`SEND\ndestination:/queue/bench\npersistent:true\nreceipt:${i}\n\n${BODY}\0`);
  }
  await Promise.race([finished, new Promise((r) => setTimeout(r, 60_000))]);
  const ms = performance.now() - t0;
  producer.close();
  consumer.close();
  return consumed / ms * 1000;
}

async function topicFanOut(port: number, n: number, subs: number): Promise<number> {
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const consumers = [];
  for (let i = 0; i < subs; i++) {
    const c = await stomp(port, (cmd) => {
      if (cmd === "MESSAGE" && ++got === n * subs) done();
    });
    await c.write(`SUBSCRIBE\nid:1\ndestination:/topic/bench.fan\nack:auto\nreceipt:s\n\n\0`);
    consumers.push(c);
  }
  await new Promise((r) => setTimeout(r, 200)); // let the subscriptions attach before the burst
  const producer = await stomp(port, () => {});
  const t0 = performance.now();
  const frame = `SEND\ndestination:/topic/bench.fan\n\n${BODY}\0`.repeat(100);
  for (let i = 0; i < n; i += 100) await producer.write(frame);
  await Promise.race([finished, new Promise((r) => setTimeout(r, 60_000))]);
  const ms = performance.now() - t0;
  producer.close();
  for (const c of consumers) c.close();
  return got / ms * 1000;
}

async function peerListening(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Runs the suite. */
export async function main(_args: string[]): Promise<void> {
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  const ours = await spawnBroker(PLUGINS);
  const port = ours.ports["stomp:tcp"];
  const rows: [string, number, number | undefined][] = [];
  try {
    await persistentQueue(port, 2_000, 500);
    rows.push([
      "persistent queue 1 -> 1, receipts windowed (500)",
      await persistentQueue(port, 50_000, 500),
      undefined,
    ]);
    rows.push(["topic 1 -> 10 (deliveries/s)", await topicFanOut(port, 20_000, 10), undefined]);
  } finally {
    await ours.stop();
  }
  const peerPort = Number(Deno.env.get("PEER_STOMP_PORT") ?? 61613);
  const peer = await peerListening(peerPort);
  if (peer) {
    rows[0][2] = await persistentQueue(peerPort, 50_000, 500);
    rows[1][2] = await topicFanOut(peerPort, 20_000, 10);
  }
  print(`stomp benchmark, ${new Date().toISOString()}, Deno ${Deno.version.deno}`);
  print(`| case | ferrymq msgs/s | peer (127.0.0.1:${peerPort}) | ratio |\n| --- | --- | --- | --- |`);
  for (const [name, a, b] of rows) {
    print(
      `| ${name} | ${fmt(a)} | ${b === undefined ? "no peer running" : fmt(b)} | ${
        b === undefined ? "-" : (a / b).toFixed(2) + "x"
      } |`,
    );
  }
}
