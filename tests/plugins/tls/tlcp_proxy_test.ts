/**
 * docs/tlcp.md: TLCP is terminated by a proxy in front of the broker. Nothing here speaks TLCP, so a
 * stand-in proxy terminates ordinary TLS instead, wired exactly as examples/tlcp/nginx.conf wires
 * nginx (listen port -> 127.0.0.1:broker port), with the broker started from examples/tlcp/broker.json.
 * What this proves is the broker side of that layout; the TLCP handshake is the proxy's.
 */
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import mqtt from "mqtt";
import type { PluginEntry } from "../../../mod.ts";
import { amqpClose, amqpConnect } from "../../helpers/amqp.ts";
import { startBroker } from "../../helpers/broker.ts";
import { Collector } from "../../helpers/wait.ts";
import { clientTls, testPki } from "./setup.ts";

const pki = await testPki();
const example = new URL("../../../examples/tlcp/", import.meta.url);

/** (public port, broker port) of each `server` block of the nginx example. */
function routes(conf: string): [number, number][] {
  return [...conf.matchAll(/listen (\d+) ssl;[^}]*?proxy_pass 127\.0\.0\.1:(\d+);/g)].map((
    m,
  ) => [+m[1], +m[2]]);
}

/** A TLS-terminating TCP proxy to 127.0.0.1:`upstream`, on a free loopback port. */
async function standInProxy(upstream: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: pki.pem("server"), key: pki.keyPem("server") }, (client) => {
    const broker = net.connect(upstream, "127.0.0.1");
    client.pipe(broker).pipe(client);
    for (const s of [client, broker]) {
      sockets.add(s);
      s.on("error", () => {}).on("close", () => (client.destroy(), broker.destroy(), sockets.delete(s)));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

Deno.test("tlcp example: MQTT, AMQP and STOMP clients reach the broker through a terminating proxy wired as in nginx.conf", async () => {
  const conf = await Deno.readTextFile(new URL("nginx.conf", example));
  const manifest = JSON.parse(await Deno.readTextFile(new URL("broker.json", example)));
  const plugins = manifest.plugins as { use: string; options?: Record<string, unknown> }[];
  // The example's upstreams are exactly the broker's listeners, and those are loopback only.
  const byPort = new Map(
    plugins.filter((p) => p.options?.port).map((p) => [p.options!.port as number, p.use]),
  );
  const pairs = routes(conf);
  assert.deepEqual(pairs.map(([, b]) => byPort.get(b)), ["mqtt", "amqp", "stomp"]);
  for (const p of plugins.filter((p) => p.options?.port)) assert.equal(p.options!.hostname, "127.0.0.1");
  const auth = plugins.find((p) => p.use === "auth")!;
  assert.equal(auth.options!.anonymous, "off", "behind a local proxy every client looks like loopback");

  const tb = await startBroker({
    plugins: plugins.map((
      p,
    ) => (p.options?.port ? { ...p, options: { ...p.options, port: 0 } } : p)) as PluginEntry[],
  });
  const proxies = new Map<string, Awaited<ReturnType<typeof standInProxy>>>();
  try {
    for (const [, brokerPort] of pairs) {
      const protocol = byPort.get(brokerPort)!;
      proxies.set(protocol, await standInProxy(tb.ports[`${protocol}:tcp`]));
    }
    const login = { username: "device-1", password: "change-me" };

    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${proxies.get("mqtt")!.port}`, {
      ...clientTls(pki),
      ...login,
      reconnectPeriod: 0,
    });
    const got = new Collector<string>();
    c.on("message", (t) => got.push(t));
    await c.subscribeAsync("device-1/up", { qos: 1 });
    await c.publishAsync("device-1/up", "x", { qos: 1 });
    assert.deepEqual(await got.atLeast(1), ["device-1/up"]);
    // The limit docs/tlcp.md states: the broker sees the proxy's address, not the client's.
    assert.match(tb.broker.connections()[0].remote, /^127\.0\.0\.1:/);
    await c.endAsync();
    await assert.rejects(
      mqtt.connectAsync(`mqtts://127.0.0.1:${proxies.get("mqtt")!.port}`, {
        ...clientTls(pki),
        reconnectPeriod: 0,
      }),
    );

    const a = await amqpConnect(proxies.get("amqp")!.port, { transport: "tls", ...clientTls(pki), ...login });
    await amqpClose(a);

    const stomp = await new Promise<string>((resolve, reject) => {
      const s = tls.connect(
        { port: proxies.get("stomp")!.port, host: "127.0.0.1", ...clientTls(pki) },
        () => {
          s.write(`CONNECT\naccept-version:1.2\nhost:x\nlogin:device-1\npasscode:change-me\n\n\0`);
        },
      );
      s.once("data", (d) => (s.destroy(), resolve(String(d).split("\n")[0])));
      s.once("error", reject);
    });
    assert.equal(stomp, "CONNECTED");
  } finally {
    for (const p of proxies.values()) await p.close();
    await tb.stop();
  }
});
