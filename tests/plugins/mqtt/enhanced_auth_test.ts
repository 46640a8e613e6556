import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import mqttPacket from "mqtt-packet";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, within } from "../../helpers/wait.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
const METHOD = "FERRY-HMAC";
const SECRETS = { alice: "s3cret", bob: "hunter2" };
const mqttOpts = { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0, connectTimeoutMs: 1000 };

const start = () =>
  startBroker({
    plugins: [
      { use: "./tests/fixtures/plugins/challenge-auth", options: { secrets: SECRETS } },
      { use: "mqtt", options: mqttOpts },
    ],
  });
const proof = (secret: string, nonce: Uint8Array) => createHmac("sha256", secret).update(nonce).digest();

/** MQTT.js with enhanced authentication: answers the broker's challenge with `secret`. */
function connectWith(tb: TestBroker, user: string, secret: string, method = METHOD): Promise<Any> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: `ea-${user}-${crypto.randomUUID().slice(0, 8)}`,
    properties: { authenticationMethod: method, authenticationData: Buffer.from(user) },
  });
  client.handleAuth = (packet: Any, cb: (e?: Error, p?: Any) => void) => {
    const nonce = packet.properties?.authenticationData;
    cb(undefined, {
      cmd: "auth",
      reasonCode: 0x18,
      properties: { authenticationMethod: METHOD, authenticationData: proof(secret, nonce) },
    });
  };
  return within(
    new Promise((resolve, reject) => {
      client.once("connect", (connack: Any) => resolve({ client, connack }));
      client.once("error", (e: Any) => (client.end(true), reject(e)));
    }),
    5000,
    "CONNACK",
  );
}

Deno.test("mqtt enhanced auth: a challenge-response method registered by a plugin authenticates MQTT.js", async () => {
  const tb = await start();
  try {
    const { client, connack } = await connectWith(tb, "alice", SECRETS.alice);
    assert.equal(connack.properties.authenticationMethod, METHOD);
    assert.equal(Buffer.from(connack.properties.authenticationData).toString(), "welcome alice");
    assert.equal(tb.broker.connections().find((c) => c.protocol === "mqtt")?.user, "alice");
    const got = new Collector<string>();
    client.on("message", (_t: string, p: Buffer) => got.push(p.toString()));
    await client.subscribeAsync("ea/t", { qos: 1 });
    await client.publishAsync("ea/t", "hello", { qos: 1 });
    assert.deepEqual(await got.atLeast(1), ["hello"]);
    await client.endAsync();
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt enhanced auth: a wrong proof, an unknown user and an unknown method are refused", async () => {
  const tb = await start();
  try {
    await assert.rejects(connectWith(tb, "alice", "wrong"), (e: Any) => e.code === 0x87 || e.code === 0x86);
    await assert.rejects(connectWith(tb, "mallory", "x"), (e: Any) => e.code === 0x87 || e.code === 0x86);
    await assert.rejects(connectWith(tb, "alice", SECRETS.alice, "SCRAM-SHA-1"), (e: Any) => e.code === 0x8c);
    assert.equal(tb.broker.connections().length, 0);
  } finally {
    await tb.stop();
  }
});

/** A raw MQTT 5 socket: write packets, read them back one at a time. */
async function rawClient(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const packets = new Collector<Any>();
  parser.on("packet", packets.push);
  let read = 0;
  (async () => {
    const buf = new Uint8Array(4096);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return packets.push({ cmd: "closed" });
      parser.parse(Buffer.from(buf.subarray(0, n)));
    }
  })();
  return {
    send: (p: Any) => conn.write(new Uint8Array(mqttPacket.generate(p, { protocolVersion: 5 }))),
    next: async () => (await packets.atLeast(++read))[read - 1],
    close: () => conn.close(),
  };
}

Deno.test("mqtt enhanced auth: re-authentication with AUTH 0x19 succeeds, and fails with a DISCONNECT", async () => {
  const tb = await start();
  const c = await rawClient(tb.ports["mqtt:tcp"]);
  try {
    const auth = (reasonCode: number, data: Uint8Array) =>
      c.send({
        cmd: "auth",
        reasonCode,
        properties: { authenticationMethod: METHOD, authenticationData: data },
      });
    await c.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clientId: "raw-ea",
      clean: true,
      keepalive: 0,
      properties: { authenticationMethod: METHOD, authenticationData: Buffer.from("bob") },
    });
    let p = await c.next();
    assert.equal(p.cmd, "auth");
    assert.equal(p.reasonCode, 0x18);
    await auth(0x18, proof(SECRETS.bob, p.properties.authenticationData));
    p = await c.next();
    assert.equal(p.cmd, "connack");
    assert.equal(p.reasonCode, 0);

    await auth(0x19, Buffer.from("bob"));
    p = await c.next();
    assert.equal(p.reasonCode, 0x18);
    await auth(0x18, proof(SECRETS.bob, p.properties.authenticationData));
    p = await c.next();
    assert.equal(p.cmd, "auth");
    assert.equal(p.reasonCode, 0, "re-authenticated");

    await auth(0x19, Buffer.from("bob"));
    p = await c.next();
    await auth(0x18, proof("not-the-secret", p.properties.authenticationData));
    p = await c.next();
    assert.equal(p.cmd, "disconnect");
    assert.equal(p.reasonCode, 0x87);
    assert.equal((await c.next()).cmd, "closed");
  } finally {
    c.close();
    await tb.stop();
  }
});

Deno.test("mqtt enhanced auth: a client that stops answering mid-exchange gets a CONNACK refusal", async () => {
  const tb = await start();
  const c = await rawClient(tb.ports["mqtt:tcp"]);
  try {
    await c.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clientId: "raw-ea-stall",
      clean: true,
      keepalive: 0,
      properties: { authenticationMethod: METHOD, authenticationData: Buffer.from("alice") },
    });
    assert.equal((await c.next()).cmd, "auth");
    const p = await c.next();
    assert.equal(p.cmd, "connack");
    assert.equal(p.reasonCode, 0x87);
    assert.equal((await c.next()).cmd, "closed");
  } finally {
    c.close();
    await tb.stop();
  }
});
