import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, within } from "../../helpers/wait.ts";
import { authPlugin, clientTls, testPki, tlsOption } from "./setup.ts";

const pki = await testPki();
type Client = ReturnType<typeof mqtt.connect>;

function broker(clientCertificates: "optional" | "required") {
  return startBroker({
    plugins: [authPlugin, {
      use: "mqtt",
      options: {
        port: 0,
        wsPort: -1,
        hostname: "127.0.0.1",
        sysIntervalMs: 0,
        tls: tlsOption(pki, clientCertificates, { wsPort: 0 }),
      },
    }],
  });
}

/** Connects with MQTT.js; resolves the client or rejects with the error that ended the attempt. */
function connect(url: string, o: Record<string, unknown>): Promise<Client> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5, ...o });
  return within(
    new Promise((resolve, reject) => {
      c.once("connect", () => resolve(c));
      c.once("error", (e) => (c.end(true), reject(e)));
      c.once("close", () => reject(new Error("closed before CONNACK")));
    }),
    5000,
    "MQTT connect",
  );
}
const end = (c: Client) => new Promise<void>((r) => c.end(false, {}, () => r()));
const mqtts = (tb: TestBroker) => `mqtts://127.0.0.1:${tb.ports["mqtt:tls"]}`;

/** Publishes to `topic` at QoS 1 and reads it back: true when the ACL let the user do both. */
async function roundTrip(c: Client, topic: string): Promise<boolean> {
  const got = new Collector<string>();
  const on = (t: string) => got.push(t);
  c.on("message", on);
  try {
    // MQTT.js rejects a SUBACK with a failure reason code.
    const granted = await c.subscribeAsync(topic, { qos: 1 }).catch(() => undefined);
    if (!granted || granted[0].qos >= 0x80) return false;
    await c.publishAsync(topic, "x", { qos: 1 });
    await got.atLeast(1);
    return true;
  } finally {
    c.off("message", on);
  }
}

Deno.test("mqtt tls required: alice's certificate is the user alice; her ACL applies", async () => {
  const tb = await broker("required");
  const c = await connect(mqtts(tb), clientTls(pki, "alice"));
  try {
    const conn = tb.broker.connections().find((x) => x.listener === "mqtt:tls");
    assert.equal(conn?.user, "alice");
    assert.match(conn!.remote, /^127\.0\.0\.1:\d+$/);
    assert.equal(await roundTrip(c, "alice/inbox"), true);
    assert.equal(await roundTrip(c, "carol/inbox"), false);
    const listener = tb.broker.listeners().find((l) => l.name === "mqtt:tls");
    assert.equal(listener?.transport, "tls");
    assert.equal(listener?.connections(), 1);
  } finally {
    await end(c);
    await tb.stop();
  }
});

Deno.test("mqtt tls required: no certificate, another CA's, an expired one and an untrusted server fail the handshake", async () => {
  const tb = await broker("required");
  try {
    for (const o of [clientTls(pki), clientTls(pki, "mallory"), clientTls(pki, "expired")]) {
      await assert.rejects(connect(mqtts(tb), o));
    }
    // The client's side: a server certificate from a CA it does not trust.
    await assert.rejects(
      connect(mqtts(tb), { ...clientTls(pki, "alice"), ca: pki.pem("other-ca") }),
      /certificate|issuer|UnknownIssuer/i,
    );
    assert.equal(tb.broker.connections().length, 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt tls optional: passwords without a certificate; wrong password, and a CN naming no user, refused", async () => {
  const tb = await broker("optional");
  try {
    const carol = await connect(mqtts(tb), { ...clientTls(pki), username: "carol", password: "carol-pw" });
    assert.equal(await roundTrip(carol, "carol/x"), true);
    await end(carol);
    await assert.rejects(
      connect(mqtts(tb), { ...clientTls(pki), username: "carol", password: "nope" }),
      /Bad User Name or Password|Not authorized/i,
    );
    // bob has a good certificate but no user entry.
    await assert.rejects(
      connect(mqtts(tb), clientTls(pki, "bob")),
      /Bad User Name or Password|Not authorized/i,
    );
    // Anonymous is off: no certificate and no password is refused too.
    await assert.rejects(connect(mqtts(tb), clientTls(pki)), /Bad User Name or Password|Not authorized/i);
    // A certificate that does not verify is refused even though certificates are optional.
    await assert.rejects(connect(mqtts(tb), clientTls(pki, "mallory")));
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt wss: MQTT over TLS WebSocket with a client certificate", async () => {
  const tb = await broker("required");
  const c = await connect(`wss://127.0.0.1:${tb.ports["mqtt:wss"]}/mqtt`, {
    ...clientTls(pki, "alice"),
    wsOptions: clientTls(pki, "alice"),
  });
  try {
    assert.equal(tb.broker.listeners().find((l) => l.name === "mqtt:wss")?.transport, "wss");
    assert.equal(tb.broker.connections().find((x) => x.listener === "mqtt:wss")?.user, "alice");
    assert.equal(await roundTrip(c, "alice/ws"), true);
  } finally {
    await end(c);
    await tb.stop();
  }
});
