/**
 * `deno task bench mqtt`: a pipelined raw-socket load generator (mqtt-packet) against this broker and
 * aedes, each in its own process, in the same run; prints each figure and the ratio.
 *
 * @module
 */
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);
const PAYLOAD = Buffer.alloc(64, 1);

async function startPeer(kind: string, extra: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./mqtt_peer.ts", import.meta.url).pathname, kind, ...extra],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port \d+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${kind} did not start`);
    text += value;
  }
  reader.releaseLock();
  const port = Number(/port (\d+)/.exec(text)![1]);
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** A raw MQTT client: CONNECT, optional SUBSCRIBE, counts PUBLISH packets received. */
async function client(
  port: number,
  id: string,
  onPublish?: (p: { payload: Uint8Array }) => void,
  qos: 0 | 1 = 0,
) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let acked!: () => void;
  const connack = new Promise<void>((r) => acked = r);
  let subacked!: () => void;
  const suback = new Promise<void>((r) => subacked = r);
  // deno-lint-ignore no-explicit-any
  parser.on("packet", (p: any) => {
    if (p.cmd === "connack") acked();
    else if (p.cmd === "suback") subacked();
    else if (p.cmd === "publish") {
      onPublish?.(p);
      if (p.qos === 1) void writeAll(conn, mqttPacket.generate({ cmd: "puback", messageId: p.messageId }));
    }
  });
  (async () => {
    const buf = new Uint8Array(256 * 1024);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        parser.parse(Buffer.from(buf.slice(0, n)));
      }
    } catch { /* closed */ }
  })();
  await writeAll(
    conn,
    mqttPacket.generate({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clientId: id,
      clean: true,
      keepalive: 0,
    }),
  );
  await connack;
  return {
    conn,
    async subscribe(topic: string) {
      await writeAll(
        conn,
        mqttPacket.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic, qos }] }),
      );
      await suback;
    },
    close: () => conn.close(),
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

async function publishMany(port: number, id: string, topic: string, n: number) {
  const c = await client(port, id);
  const one = mqttPacket.generate({
    cmd: "publish",
    topic,
    payload: PAYLOAD,
    qos: 0,
    retain: false,
    dup: false,
  });
  const batch = Buffer.concat(Array.from({ length: 100 }, () => one));
  for (let i = 0; i < n; i += 100) await writeAll(c.conn, batch);
  return c;
}

async function fanIn(port: number, n: number): Promise<number> {
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const total = n * 4;
  const sub = await client(port, "sub", () => {
    if (++got === total) done();
  });
  await sub.subscribe("bench/in");
  const t0 = performance.now();
  const pubs = await Promise.all([0, 1, 2, 3].map((i) => publishMany(port, `p${i}`, "bench/in", n)));
  await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
  const ms = performance.now() - t0;
  for (const p of pubs) p.close();
  sub.close();
  return got / ms * 1000;
}

async function fanOut(port: number, n: number, subs: number): Promise<number> {
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const total = n * subs;
  const clients = [];
  for (let i = 0; i < subs; i++) {
    const c = await client(port, `s${i}`, () => {
      if (++got === total) done();
    });
    await c.subscribe("bench/out");
    clients.push(c);
  }
  const t0 = performance.now();
  const pub = await publishMany(port, "pub", "bench/out", n);
  await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
  const ms = performance.now() - t0;
  pub.close();
  for (const c of clients) c.close();
  return got / ms * 1000;
}

async function latency(port: number, rate: number, count: number): Promise<[number, number]> {
  const lat: number[] = [];
  const sub = await client(port, "lat-sub", (p) => {
    lat.push(performance.now() - new DataView(p.payload.buffer, p.payload.byteOffset).getFloat64(0));
  });
  await sub.subscribe("bench/lat");
  const pub = await client(port, "lat-pub");
  const interval = 1000 / rate;
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(64);
    payload.writeDoubleBE(performance.now(), 0);
    await writeAll(
      pub.conn,
      mqttPacket.generate({ cmd: "publish", topic: "bench/lat", payload, qos: 0, retain: false, dup: false }),
    );
    await new Promise((r) => setTimeout(r, interval));
  }
  await new Promise((r) => setTimeout(r, 100));
  pub.close();
  sub.close();
  lat.sort((a, b) => a - b);
  return [lat[Math.floor(lat.length * 0.5)], lat[Math.floor(lat.length * 0.99)]];
}

/** Runs every case against each peer and prints the table. */
export async function main(_args: string[]): Promise<void> {
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  const results: Record<string, Record<string, number>> = {};
  for (const kind of ["ferrymq", "aedes"]) {
    const peer = await startPeer(kind);
    try {
      await fanIn(peer.port, 10_000); // warm-up
      results[kind] = {
        "QoS 0 fan-in 4->1 (msgs/s)": await fanIn(peer.port, 100_000),
        "QoS 0 fan-out 1->50 (deliveries/s)": await fanOut(peer.port, 4_000, 50),
      };
      const [p50, p99] = await latency(peer.port, 1000, 2000);
      results[kind]["latency p50 at 1k msgs/s (ms)"] = p50;
      results[kind]["latency p99 at 1k msgs/s (ms)"] = p99;
    } finally {
      await peer.stop();
    }
  }
  print(`mqtt benchmark, ${new Date().toISOString()}, Deno ${Deno.version.deno}, aedes 1.2.0`);
  print("| case | ferrymq | aedes | ratio |\n| --- | --- | --- | --- |");
  for (const k of Object.keys(results.ferrymq)) {
    const a = results.ferrymq[k], b = results.aedes[k];
    const latencyCase = k.startsWith("latency");
    const show = (x: number) => latencyCase ? x.toFixed(2) : fmt(x);
    print(
      `| ${k} | ${show(a)} | ${show(b)} | ${(latencyCase ? b / a : a / b).toFixed(2)}x${
        latencyCase ? " (aedes/ours)" : ""
      } |`,
    );
  }
}
