/**
 * `deno task bench mqtt`: a pipelined raw-socket load generator (mqtt-packet) against this broker, aedes
 * (on Node.js when installed, and on Deno) and, when installed, mosquitto, each in its own process, in
 * the same run; prints each figure and the ratios. `--quick` runs smaller counts; `--pin` runs the
 * brokers on CPU 1 and the load generator on CPU 0 (taskset).
 *
 * @module
 */
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { aedesOnDeno, aedesOnNode, ferry, mosquitto, type Peer, type PeerStarter } from "./mqtt_peers.ts";

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);
const PAYLOAD = Buffer.alloc(64, 1);
// deno-lint-ignore no-explicit-any
type Packet = any;

interface RawClient {
  conn: Deno.Conn;
  subscribe(topic: string, qos: 0 | 1): Promise<void>;
  close(): void;
}

/** A raw MQTT 3.1.1 client: CONNECT, optional SUBSCRIBE; hands PUBLISH and PUBACK packets to callbacks. */
async function client(
  port: number,
  id: string,
  on: { publish?: (p: Packet) => void; puback?: (p: Packet) => void; clean?: boolean } = {},
): Promise<RawClient> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let acked!: () => void;
  const connack = new Promise<void>((r) => acked = r);
  let subacked!: () => void;
  let suback = new Promise<void>((r) => subacked = r);
  parser.on("packet", (p: Packet) => {
    if (p.cmd === "publish") {
      on.publish?.(p);
      if (p.qos === 1) {
        writeAll(conn, mqttPacket.generate({ cmd: "puback", messageId: p.messageId })).catch(() => {});
      }
    } else if (p.cmd === "puback") on.puback?.(p);
    else if (p.cmd === "connack") acked();
    else if (p.cmd === "suback") subacked();
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
  await writeAll(conn, connectPacket(id, on.clean ?? true));
  await connack;
  return {
    conn,
    async subscribe(topic, qos) {
      await writeAll(
        conn,
        mqttPacket.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic, qos }] }),
      );
      await suback;
      suback = new Promise<void>((r) => subacked = r);
    },
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
  };
}

/** An MQTT 3.1.1 CONNECT without keep-alive. */
const connectPacket = (clientId: string, clean: boolean) =>
  mqttPacket.generate({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clientId,
    clean,
    keepalive: 0,
  });

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

const publishPacket = (topic: string, qos: 0 | 1, messageId?: number) =>
  mqttPacket.generate({ cmd: "publish", topic, payload: PAYLOAD, qos, messageId, retain: false, dup: false });

/** QoS 0: writes n publishes in batches of 100. */
async function publishQos0(port: number, id: string, topic: string, n: number): Promise<RawClient> {
  const c = await client(port, id);
  const batch = Buffer.concat(Array.from({ length: 100 }, () => publishPacket(topic, 0)));
  for (let i = 0; i < n; i += 100) await writeAll(c.conn, batch);
  return c;
}

/** QoS 1: keeps `window` publishes unacknowledged; resolves when all n are acknowledged. */
async function publishQos1(port: number, id: string, topic: string, n: number, window: number) {
  let sent = 0, acked = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  let wake: (() => void) | undefined;
  const c = await client(port, id, {
    puback: () => {
      if (++acked === n) done();
      wake?.();
    },
  });
  while (sent < n) {
    if (sent - acked >= window) {
      await new Promise<void>((r) => wake = r);
      wake = undefined;
      continue;
    }
    const k = Math.min(100, n - sent, window - (sent - acked));
    const packets = [];
    for (let i = 0; i < k; i++) packets.push(publishPacket(topic, 1, (sent++ % 65535) + 1));
    await writeAll(c.conn, Buffer.concat(packets));
  }
  await finished;
  return c;
}

async function timed(total: number, run: (count: () => void) => Promise<() => void>): Promise<number> {
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const t0 = performance.now();
  const cleanup = await run(() => {
    if (++got === total) done();
  });
  let timer;
  await Promise.race([finished, new Promise((r) => timer = setTimeout(r, 60_000))]);
  clearTimeout(timer);
  const ms = performance.now() - t0;
  cleanup();
  return got / ms * 1000;
}

async function fanIn(port: number, n: number, qos: 0 | 1): Promise<number> {
  const total = n * 4;
  let count!: () => void;
  const tag = crypto.randomUUID().slice(0, 8);
  // QoS 1: a persistent session (clean=false) whose messages the broker must keep until acknowledged.
  const sub = await client(port, `sub-${tag}`, { publish: () => count(), clean: qos === 0 });
  await sub.subscribe(`bench/in/${tag}`, qos);
  return timed(total, async (c) => {
    count = c;
    const pubs = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        qos === 0
          ? publishQos0(port, `p${i}-${tag}`, `bench/in/${tag}`, n)
          : publishQos1(port, `p${i}-${tag}`, `bench/in/${tag}`, n, 1000)
      ),
    );
    return () => {
      for (const p of pubs) p.close();
      sub.close();
    };
  });
}

async function fanOut(port: number, n: number, subs: number): Promise<number> {
  let count!: () => void;
  const clients: RawClient[] = [];
  for (let i = 0; i < subs; i++) {
    const c = await client(port, `s${i}`, { publish: () => count() });
    await c.subscribe("bench/out", 0);
    clients.push(c);
  }
  return timed(n * subs, async (c) => {
    count = c;
    const pub = await publishQos0(port, "pub", "bench/out", n);
    return () => {
      pub.close();
      for (const x of clients) x.close();
    };
  });
}

async function latency(port: number, rate: number, count: number): Promise<[number, number]> {
  const lat: number[] = [];
  const sub = await client(port, "lat-sub", {
    publish: (p) =>
      lat.push(performance.now() - new DataView(p.payload.buffer, p.payload.byteOffset).getFloat64(0)),
  });
  await sub.subscribe("bench/lat", 0);
  const pub = await client(port, "lat-pub");
  const interval = 1000 / rate;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(64);
    payload.writeDoubleBE(performance.now(), 0);
    await writeAll(
      pub.conn,
      mqttPacket.generate({ cmd: "publish", topic: "bench/lat", payload, qos: 0, retain: false, dup: false }),
    );
    // Paced against the start, so timer drift does not lower the rate.
    const next = t0 + (i + 1) * interval - performance.now();
    if (next > 0) await new Promise((r) => setTimeout(r, next));
  }
  await new Promise((r) => setTimeout(r, 100));
  pub.close();
  sub.close();
  lat.sort((a, b) => a - b);
  return [lat[Math.floor(lat.length * 0.5)], lat[Math.floor(lat.length * 0.99)]];
}

/**
 * Opens n idle connections (CONNECT, CONNACK, nothing else): the connect rate, and the broker's RSS growth per
 * connection right after connecting and once settled (the lowest over `settleMs`: V8 gives back the heap a
 * burst of connections grew only after many idle seconds, in Node.js as in Deno).
 */
async function idle(peer: Peer, n: number, settleMs: number): Promise<[number, number, number]> {
  await new Promise((r) => setTimeout(r, 500)); // start-up settles
  const before = await peer.rss();
  const conns: Deno.Conn[] = [];
  const connack = new Uint8Array(4);
  const open = async (i: number) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.port });
    await writeAll(conn, connectPacket(`idle-${i}`, true));

    let got = 0;
    while (got < 4) {
      const r = await conn.read(connack);
      if (r === null) throw new Error("closed before CONNACK");
      got += r;
    }
    conns.push(conn);
  };
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 100 }, async () => {
    while (next < n) await open(next++);
  }));
  const rate = n / (performance.now() - t0) * 1000;
  await new Promise((r) => setTimeout(r, 500));
  const early = await peer.rss();
  // The lowest reading over the settling time: when V8 shrinks the heap varies from run to run.
  let settled = early;
  for (let waited = 0; waited < settleMs; waited += 5_000) {
    await new Promise((r) => setTimeout(r, 5_000));
    settled = Math.min(settled, await peer.rss());
  }
  for (const c of conns) c.close();
  return [rate, (early - before) / n / 1024, (settled - before) / n / 1024];
}

/** Pins this process (every thread) to `cpus`; false when taskset is not there. */
async function pinSelf(cpus: string): Promise<boolean> {
  try {
    const args = ["-a", "-p", "-c", cpus, String(Deno.pid)];
    return (await new Deno.Command("taskset", { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs every case against each peer and prints the table. */
export async function main(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const scale = quick ? 0.1 : 1;
  const pinned = args.includes("--pin") && await pinSelf("0");
  const brokerCpus = pinned ? "1" : undefined;
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  const peers: [string, PeerStarter][] = [
    ["FerryMQ", ferry(["--persistent"])],
    // The same broker on Deno.listen instead of its default epoll transport (Linux): what each costs.
    ["FerryMQ on Deno.listen", ferry(["--persistent", "--io=deno"])],
    ["aedes (Node.js)", aedesOnNode],
    ["aedes (Deno)", aedesOnDeno],
    ["mosquitto", mosquitto],
  ];
  const cases = [
    "QoS 0 fan-in 4->1 (msgs/s)",
    "QoS 1 fan-in 4->1, persistent session (msgs/s)",
    "QoS 0 fan-out 1->50 (deliveries/s)",
    "latency p50 at 1k msgs/s (ms)",
    "latency p99 at 1k msgs/s (ms)",
    "10k idle: connects/s",
    "10k idle: RSS per connection, 0.5 s after connecting (KB)",
    "10k idle: RSS per connection, settled (KB)",
  ];
  const lowerIsBetter = (k: string) => k.startsWith("latency") || k.includes("RSS");
  const results: Record<string, Record<string, number>> = {};
  const versions: string[] = [];
  const running = new Map<string, Peer>();
  try {
    for (const [name, start] of peers) {
      const peer = await start(brokerCpus);
      if (!peer) {
        print(`notice: ${name} is not installed; its column is skipped`);
        continue;
      }
      running.set(name, peer);
      versions.push(`${name} ${peer.version}`);
      await fanIn(peer.port, 10_000 * scale, 0); // warm-up
      const r: Record<string, number> = {};
      r[cases[0]] = await fanIn(peer.port, 100_000 * scale, 0);
      r[cases[1]] = await fanIn(peer.port, 25_000 * scale, 1);
      r[cases[2]] = await fanOut(peer.port, 4_000 * scale, 50);
      results[name] = r;
    }
    // Latency in rounds that take each broker in turn, the median of each percentile over the rounds: a
    // pause of the VM moves one run's p99 by milliseconds, and this way no broker gets all the quiet phases.
    const runs = new Map<string, [number, number][]>([...running.keys()].map((n) => [n, []]));
    for (let round = 0; round < (quick ? 3 : 5); round++) {
      for (const [name, peer] of running) runs.get(name)!.push(await latency(peer.port, 1000, 3000 * scale));
    }
    for (const [name, rs] of runs) {
      results[name][cases[3]] = median(rs.map((x) => x[0]));
      results[name][cases[4]] = median(rs.map((x) => x[1]));
    }
  } finally {
    for (const peer of running.values()) await peer.stop();
  }
  // Idle connections on a fresh process: memory the earlier cases freed would hide the growth.
  for (const [name, start] of peers) {
    if (!results[name]) continue;
    const fresh = (await start(brokerCpus))!;
    try {
      [results[name][cases[5]], results[name][cases[6]], results[name][cases[7]]] = await idle(
        fresh,
        10_000 * scale,
        quick ? 5_000 : 60_000,
      );
    } finally {
      await fresh.stop();
    }
  }
  const names = Object.keys(results);
  const others = names.slice(1);
  print(`mqtt benchmark, ${new Date().toISOString()}${pinned ? ", pinned" : ""}, ${versions.join(", ")}`);
  print(`| case | ${names.join(" | ")} | ${others.map((o) => `vs ${o}`).join(" | ")} |`);
  print(`| --- | ${names.map(() => "---").join(" | ")} | ${others.map(() => "---").join(" | ")} |`);
  for (const k of cases) {
    const show = (x: number) => lowerIsBetter(k) ? x.toFixed(2) : fmt(x);
    // Ratios read "better than the peer" above 1 for every row.
    const ratio = (o: string) => {
      const ours = results[names[0]][k], theirs = results[o][k];
      return `${(lowerIsBetter(k) ? theirs / ours : ours / theirs).toFixed(2)}x`;
    };
    print(
      `| ${k} | ${names.map((n) => show(results[n][k])).join(" | ")} | ${others.map(ratio).join(" | ")} |`,
    );
  }
}
