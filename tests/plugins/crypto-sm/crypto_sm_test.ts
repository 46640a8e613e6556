import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { decodeMessage, encodeMessage, type Message, type PluginEntry } from "../../../mod.ts";
import type { Cipher, CipherService } from "../../../plugins/crypto-sm/mod.ts";
import type { DlqService } from "../../../plugins/dlq/mod.ts";
import { amqpClose, amqpConnect } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";
import { mqttAs, stompAs } from "../acl/clients.ts";

const K1 = "00112233445566778899aabbccddeeff";
const K2 = "ffeeddccbbaa99887766554433221100";
const A1 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
// GM/T 0003.5 example key: publishes sign with it, deliveries verify with it.
const SM2_D = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";

const users = [
  { username: "alice", password: "alice-pw", groups: ["finance"] },
  { username: "bob", password: "bob-pw", groups: ["ops"] },
];
const cryptoSm = (options: Record<string, unknown>): PluginEntry => ({ use: "crypto-sm", options });
const defaultCrypto = cryptoSm({
  keys: [{ id: "k1", hex: K1 }, { id: "k2", file: "keys/k2.hex" }, {
    id: "a1",
    cipher: "aes-256-gcm",
    hex: A1,
  }],
  signingKeys: [{ id: "s1", privateKey: SM2_D }],
  rules: [
    { pattern: "pay.>", seal: "k1", sign: "s1", digest: true, readers: { groups: ["finance"] } },
    { pattern: "aes.>", seal: "a1" },
  ],
});
const protocols: PluginEntry[] = [
  { use: "auth", options: { users, acl: { default: "allow" } } },
  { use: "mqtt", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 } },
  { use: "stomp", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", heartBeatMs: 0 } },
  { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } },
  { use: "http", options: { port: 0, hostname: "127.0.0.1" } },
  { use: "dlq", options: { default: { nonPersistent: true } } },
];

async function start(
  opts: { crypto?: PluginEntry; dataDir?: string; extra?: PluginEntry[] } = {},
): Promise<TestBroker> {
  const dataDir = opts.dataDir ?? await Deno.makeTempDir({ prefix: "ferrymq-crypto-" });
  await Deno.mkdir(`${dataDir}/keys`, { recursive: true });
  await Deno.writeTextFile(`${dataDir}/keys/k2.hex`, K2 + "\n");
  return await startBroker({
    dataDir,
    plugins: [{ use: "sqlite-store" }, ...protocols, ...(opts.extra ?? []), opts.crypto ?? defaultCrypto],
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const service = (tb: TestBroker): CipherService => tb.broker.host.service("cipher")!;
const pending = (tb: TestBroker, q: string) =>
  tb.broker.destinations().find((d) => d.name === q)?.pending ?? 0;
const basic = (u: string, p: string) => ({ authorization: `Basic ${btoa(`${u}:${p}`)}` });

/** Every stored message, straight from the sqlite file the store writes. */
function stored(tb: TestBroker): { raw: Uint8Array; message: Message }[] {
  const db = new DatabaseSync(`${tb.dataDir}/broker.db`, { readOnly: true });
  try {
    return (db.prepare("SELECT data FROM messages ORDER BY seq").all() as { data: Uint8Array }[]).map((
      r,
    ) => ({
      raw: new Uint8Array(r.data),
      message: decodeMessage(new Uint8Array(r.data)),
    }));
  } finally {
    db.close();
  }
}

/** Rewrites stored messages in the (stopped) broker's sqlite file. */
function rewrite(dataDir: string, change: (m: Message) => Message): void {
  const db = new DatabaseSync(`${dataDir}/broker.db`);
  try {
    const rows = db.prepare("SELECT seq, data FROM messages").all() as { seq: number; data: Uint8Array }[];
    const upd = db.prepare("UPDATE messages SET data = ? WHERE seq = ?");
    for (const r of rows) upd.run(encodeMessage(change(decodeMessage(new Uint8Array(r.data)))), r.seq);
  } finally {
    db.close();
  }
}

/** A durable queue bound to `pattern`: it holds (and the store keeps) what is published there. */
async function vault(tb: TestBroker, name: string, pattern: string) {
  await tb.broker.createQueue(name, { durable: true });
  await tb.broker.bindQueue(name, pattern);
}

/** Receives `n` messages from a queue over STOMP as `user`. */
async function stompReceive(tb: TestBroker, user: [string, string], queue: string, n: number) {
  const s = await stompAs(tb.ports["stomp:tcp"], ...user);
  const got = new Collector<{ body: string; headers: Record<string, string> }>();
  s.client.subscribe(`/queue/${queue}`, (f) => got.push({ body: f.body, headers: f.headers }));
  try {
    return await got.atLeast(n);
  } finally {
    await s.client.deactivate();
  }
}

Deno.test("crypto-sm: MQTT and HTTP publishes are sealed in the sqlite file and open for STOMP, AMQP and HTTP readers", async () => {
  const tb = await start();
  try {
    for (const q of ["v-stomp", "v-amqp", "v-http"]) await vault(tb, q, "pay.>");
    const mq = await mqttAs(tb.ports["mqtt:tcp"], "alice", "alice-pw");
    await mq.publishAsync("pay/eu", "pay 100 EUR to carol", { qos: 1 });
    await mq.endAsync();
    const res = await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/topics/pay.us/messages`, {
      method: "POST",
      headers: basic("alice", "alice-pw"),
      body: "pay 200 USD to dave",
    });
    assert.equal(res.status, 201, await res.text());

    // At rest: 2 messages (one row each, however many queues hold them), no plain text anywhere.
    const rows = stored(tb);
    assert.equal(rows.length, 2);
    for (const { raw, message } of rows) {
      assert.ok(!text(raw).includes(" to "), "the plain body is not in the file");
      assert.equal(message.properties["x-seal-alg"], "sm4-cbc-hmac-sm3");
      assert.equal(message.properties["x-seal-key"], "k1");
      assert.match(String(message.properties["x-sig"]), /^[0-9a-f]{128}$/);
      assert.match(String(message.properties["x-sm3"]), /^[0-9a-f]{64}$/);
      assert.equal((message.body.byteLength - 48) % 16, 0, "iv | blocks | mac");
    }
    assert.ok(!text(tb.broker.browse("v-stomp")[0].body).includes(" to "), "sealed in memory too");

    const viaStomp = await stompReceive(tb, ["alice", "alice-pw"], "v-stomp", 2);
    assert.deepEqual(viaStomp.map((m) => m.body).sort(), ["pay 100 EUR to carol", "pay 200 USD to dave"]);
    assert.equal(viaStomp[0].headers["x-seal-key"], undefined, "seal headers are the broker's business");
    assert.equal(viaStomp[0].headers["x-sig-alg"], "sm2-sm3", "the signature travels for end-to-end checks");

    const conn = await amqpConnect(tb.ports["amqp:tcp"], { username: "alice", password: "alice-pw" });
    const viaAmqp = new Collector<string>();
    conn.open_receiver("queue://v-amqp").on(
      "message",
      // deno-lint-ignore no-explicit-any
      (c: any) =>
        viaAmqp.push(
          typeof c.message.body === "string"
            ? c.message.body
            : text(c.message.body.content ?? c.message.body),
        ),
    );
    assert.deepEqual((await viaAmqp.atLeast(2)).sort(), ["pay 100 EUR to carol", "pay 200 USD to dave"]);
    await amqpClose(conn);

    const base = `http://127.0.0.1:${tb.ports.http}/api/v1/queues/v-http/consumers`;
    const created = await fetch(base, {
      method: "POST",
      headers: { ...basic("alice", "alice-pw"), "content-type": "application/json" },
      body: JSON.stringify({ prefetch: 10 }),
    });
    const { id } = await created.json();
    const msgs =
      await (await fetch(`${base}/${id}/messages?max=2&wait=3000`, { headers: basic("alice", "alice-pw") }))
        .json() as { body: string }[];
    assert.deepEqual(msgs.map((m) => m.body).sort(), ["pay 100 EUR to carol", "pay 200 USD to dave"]);

    const c = service(tb).counters();
    assert.equal(c.sealed, 2);
    assert.equal(c.signed, 2);
    assert.ok(c.unsealed >= 6 && c.verified >= 6, JSON.stringify(c));
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: a consumer who is not a reader gets nothing: MQTT topic withheld, queue subscription refused", async () => {
  const tb = await start();
  try {
    const alice = await mqttAs(tb.ports["mqtt:tcp"], "alice", "alice-pw");
    const bob = await mqttAs(tb.ports["mqtt:tcp"], "bob", "bob-pw");
    const got = { alice: new Collector<string>(), bob: new Collector<string>() };
    alice.on("message", (t, p) => got.alice.push(`${t} ${text(p)}`));
    bob.on("message", (t, p) => got.bob.push(`${t} ${text(p)}`));
    await alice.subscribeAsync("pay/#", { qos: 1 });
    await bob.subscribeAsync("#", { qos: 1 });
    await alice.publishAsync("pay/eu", "secret", { qos: 1 });
    await alice.publishAsync("news/eu", "public", { qos: 1 });
    await got.alice.atLeast(1);
    await got.bob.atLeast(1);
    await waitFor(() => service(tb).counters().withheld === 1, "bob's copy to be withheld");
    assert.deepEqual(got.alice.items, ["pay/eu secret"]);
    assert.deepEqual(got.bob.items, ["news/eu public"], "bob sees the public message only");
    await Promise.all([alice.endAsync(), bob.endAsync()]);

    // A queue on a sealed pattern: bob's SUBSCRIBE is refused, so he cannot take alice's messages.
    await tb.broker.publish({ kind: "queue", destination: "pay.batch", body: "batch 1", persistent: true });
    const s = await stompAs(tb.ports["stomp:tcp"], "bob", "bob-pw");
    s.client.subscribe("/queue/pay.batch", () => assert.fail("bob received a sealed message"));
    const [err] = await s.errors.atLeast(1);
    assert.match(err, /sealed queue "pay\.batch"/);
    await within(s.closed, 5000, "STOMP close after ERROR");
    await s.client.deactivate();
    assert.equal(pending(tb, "pay.batch"), 1, "the message still waits for a reader");
    assert.equal(service(tb).counters().refused, 1);
    const [m] = await stompReceive(tb, ["alice", "alice-pw"], "pay.batch", 1);
    assert.equal(m.body, "batch 1");
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: an MQTT retained publish on a sealed pattern is refused (0x87) and nothing is retained", async () => {
  const tb = await start();
  try {
    const c = await mqttAs(tb.ports["mqtt:tcp"], "alice", "alice-pw");
    const code = await new Promise((resolve) =>
      // deno-lint-ignore no-explicit-any
      c.publish("pay/eu", "retained secret", { qos: 1, retain: true }, (_e, p: any) => resolve(p?.reasonCode))
    );
    assert.equal(code, 0x87);
    await c.publishAsync("news/eu", "retained news", { qos: 1, retain: true });
    await c.endAsync();
    const db = new DatabaseSync(`${tb.dataDir}/broker.db`, { readOnly: true });
    const keys = db.prepare("SELECT key FROM kv WHERE ns = 'mqtt.retained'").all().map((r) => r.key);
    db.close();
    assert.deepEqual(keys, ["news.eu"]);
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: a delayed message is sealed before the delay plugin stores it", async () => {
  const tb = await startBroker({
    plugins: [
      { use: "sqlite-store" },
      { use: "delay" },
      cryptoSm({
        keys: [{ id: "k1", hex: K1 }],
        rules: [{ pattern: "pay.>", seal: "k1" }],
      }),
    ],
  });
  try {
    await tb.broker.publish({
      destination: "pay.eu",
      body: "delayed secret",
      persistent: true,
      delay: 60_000,
    });
    const db = new DatabaseSync(`${tb.dataDir}/broker.db`, { readOnly: true });
    const rows = db.prepare("SELECT value FROM kv WHERE ns = 'delay'").all().map((r) => String(r.value));
    db.close();
    assert.equal(rows.length, 1);
    // The record keeps the message as JSON with the body in base64.
    const { message } = JSON.parse(rows[0]) as {
      message: { body: string; properties: Record<string, string> };
    };
    assert.equal(message.properties["x-seal-key"], "k1");
    assert.ok(!text(Uint8Array.fromBase64(message.body)).includes("secret"));
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: tampered bodies, forged signatures, unknown and missing key ids are dead-lettered with the reason", async () => {
  let tb = await start();
  const dataDir = tb.dataDir;
  try {
    const bodies = ["flip", "sig", "unknown", "missing", "fine"];
    for (const b of bodies) {
      await tb.broker.publish({
        kind: "queue",
        destination: "pay.q",
        body: b,
        persistent: true,
        properties: { b },
      });
    }
    await tb.stop({ keepData: true });
    rewrite(dataDir, (m) => {
      const p = { ...m.properties };
      switch (p.b) {
        case "flip": {
          const body = m.body.slice();
          body[20] ^= 0x80; // a ciphertext byte
          return { ...m, body };
        }
        case "sig":
          p["x-sig"] = String(p["x-sig"]).replace(/^./, (c) => c === "a" ? "b" : "a");
          break;
        case "unknown":
          p["x-seal-key"] = "k9";
          break;
        case "missing":
          delete p["x-seal-key"];
          break;
      }
      return { ...m, properties: p };
    });
    tb = await start({ dataDir });
    const delivered = new Collector<string>();
    const s = await stompAs(tb.ports["stomp:tcp"], "alice", "alice-pw");
    s.client.subscribe("/queue/pay.q", (f) => delivered.push(f.body));
    await waitFor(() => pending(tb, "DLQ.pay.q") === 4, "four dead letters");
    assert.deepEqual(await delivered.atLeast(1), ["fine"]);
    await s.client.deactivate();

    const dlq: DlqService = tb.broker.host.service("dlq")!;
    const reasons = Object.fromEntries(
      dlq.list("DLQ.pay.q").map((m) => [m.properties.b, String(m.properties.dlqReason)]),
    );
    assert.match(reasons.flip, /^seal_tampered: HMAC-SM3 check failed \(key "k1"\)/);
    assert.match(reasons.sig, /^signature_invalid: sm2-sm3 signature by key "s1" does not verify/);
    assert.match(reasons.unknown, /^seal_unknown_key: key "k9": no such key/);
    assert.match(reasons.missing, /^seal_unknown_key: no x-seal-key header/);
    for (const m of dlq.list("DLQ.pay.q")) {
      assert.notEqual(text(m.body), m.properties.b, "a dead letter stays sealed as it was");
    }
    const f = service(tb).counters().failures;
    assert.deepEqual(
      [f.seal_tampered, f.signature_invalid, f.seal_unknown_key],
      [1, 1, 2],
    );
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: key rotation: new messages take the new key id, old ones still open; a dropped key dead-letters", async () => {
  let tb = await start();
  const dataDir = tb.dataDir;
  try {
    await vault(tb, "kept", "pay.>");
    await vault(tb, "old", "pay.>");
    await tb.broker.publish({ destination: "pay.a", body: "under k1", persistent: true });
    service(tb).rotate("pay.>", "k2");
    await tb.broker.publish({ destination: "pay.b", body: "under k2", persistent: true });
    assert.deepEqual(stored(tb).map((r) => r.message.properties["x-seal-key"]), ["k1", "k2"]);
    assert.throws(() => service(tb).rotate("pay.>", "nope"), /no such key/);
    await tb.stop({ keepData: true });

    // Restarted with k2 as the configured sealing key and k1 kept: both open.
    const rotated = cryptoSm({
      keys: [{ id: "k1", hex: K1 }, { id: "k2", file: "keys/k2.hex" }],
      signingKeys: [{ id: "s1", privateKey: SM2_D }],
      rules: [{ pattern: "pay.>", seal: "k2", sign: "s1", digest: true, readers: { groups: ["finance"] } }],
    });
    tb = await start({ dataDir, crypto: rotated });
    assert.deepEqual(tb.broker.browse("kept").map((m) => m.properties["x-seal-key"]), ["k1", "k2"]);
    const got = await stompReceive(tb, ["alice", "alice-pw"], "kept", 2);
    assert.deepEqual(got.map((m) => m.body), ["under k1", "under k2"]);
    await tb.stop({ keepData: true });

    // k1 dropped from the configuration: its message cannot open and is dead-lettered; k2's opens.
    tb = await start({
      dataDir,
      crypto: cryptoSm({ ...rotated.options, keys: [{ id: "k2", file: "keys/k2.hex" }] }),
    });
    const [opened] = await stompReceive(tb, ["alice", "alice-pw"], "old", 1);
    assert.equal(opened.body, "under k2");
    await waitFor(() => pending(tb, "DLQ.old") === 1, "the k1 message in the DLQ");
    const [dead] = tb.broker.browse("DLQ.old");
    assert.equal(dead.properties.dlqReason, 'seal_unknown_key: key "k1": no such key');
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: the cipher is chosen per pattern: AES-256-GCM from MQTT to STOMP, ciphertext on disk", async () => {
  const tb = await start();
  try {
    await vault(tb, "aes-box", "aes.>");
    const mq = await mqttAs(tb.ports["mqtt:tcp"], "bob", "bob-pw");
    await mq.publishAsync("aes/x", "gcm sealed body", { qos: 1 });
    await mq.endAsync();
    const [row] = stored(tb);
    assert.equal(row.message.properties["x-seal-alg"], "aes-256-gcm");
    assert.equal(row.message.properties["x-seal-key"], "a1");
    assert.equal(row.message.body.byteLength, 12 + "gcm sealed body".length + 16);
    assert.ok(!text(row.raw).includes("gcm sealed body"));
    const [m] = await stompReceive(tb, ["bob", "bob-pw"], "aes-box", 1);
    assert.equal(m.body, "gcm sealed body", "no readers on aes.>: any consumer the ACL admits");
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: another plugin's cipher: its keys wait for it, publishes are refused until it registers", async () => {
  // A toy cipher (not secure): it only shows the seam. Sealed = body reversed + 1-byte checksum.
  const toy: Cipher<number> = {
    name: "toy",
    keyLength: 1,
    importKey: (raw) => raw[0],
    seal: (k, plain) =>
      Uint8Array.from([...plain.toReversed().map((b) => b ^ k), plain.reduce((a, b) => a ^ b, 0)]),
    unseal(k, sealed) {
      const plain = sealed.subarray(0, -1).toReversed().map((b) => b ^ k);
      if (plain.reduce((a, b) => a ^ b, 0) !== sealed.at(-1)) throw new Error("unreachable in this test");
      return plain;
    },
  };
  const tb = await start({
    crypto: cryptoSm({
      keys: [{ id: "t1", cipher: "toy", hex: "5a" }],
      rules: [{ pattern: "toy.>", seal: "t1" }],
    }),
  });
  try {
    await vault(tb, "toys", "toy.>");
    await assert.rejects(
      tb.broker.publish({ destination: "toy.a", body: "early" }),
      /cipher "toy" is not registered/,
    );
    await service(tb).registerCipher(toy);
    assert.deepEqual(service(tb).keys().find((k) => k.id === "t1"), { id: "t1", cipher: "toy", ready: true });
    await assert.rejects(
      service(tb).addKey({ id: "t2", cipher: "toy", hex: "0011" }),
      (e: Error & { code?: string }) =>
        e.code === "invalid_argument" && /toy needs 1 bytes, got 2/.test(e.message),
    );
    await tb.broker.publish({ destination: "toy.a", body: "abc" });
    const [m] = tb.broker.browse("toys");
    assert.equal(m.properties["x-seal-alg"], "toy");
    assert.deepEqual([...m.body], [0x63 ^ 0x5a, 0x62 ^ 0x5a, 0x61 ^ 0x5a, 0x61 ^ 0x62 ^ 0x63]);
    const opened = deferred<string>();
    await tb.broker.subscribe({ kind: "queue", destination: "toys" }, (d, s) => {
      s.ack([d.tag]);
      opened.resolve(text(d.message.body));
    });
    assert.equal(await within(opened.promise, 5000, "delivery"), "abc");
  } finally {
    await tb.stop();
  }
});

Deno.test("crypto-sm: with no rules the plugin changes nothing; a bad rule or key stops start-up naming it", async () => {
  const tb = await start({ crypto: { use: "crypto-sm" } });
  try {
    await vault(tb, "plain", "pay.>");
    await tb.broker.publish({ destination: "pay.x", body: "as is", persistent: true });
    assert.equal(text(stored(tb)[0].message.body), "as is");
    assert.deepEqual(service(tb).ciphers().sort(), ["aes-256-gcm", "sm4-cbc-hmac-sm3"]);
  } finally {
    await tb.stop();
  }
  const refused = async (options: Record<string, unknown>, why: RegExp) => {
    const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-crypto-" });
    try {
      await assert.rejects(start({ dataDir, crypto: cryptoSm(options) }), why);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  };
  await refused(
    { rules: [{ pattern: "pay.>", seal: "nope" }] },
    /rules\[0\] \("pay\.>"\): no key "nope" in keys/,
  );
  await refused(
    { keys: [{ id: "short", hex: "0011" }] },
    /Cannot add key "short": sm4-cbc-hmac-sm3 needs 16 bytes, got 2/,
  );
  await refused({ keys: [{ id: "f", file: "keys/none.hex" }] }, /Cannot read key "f" from "keys\/none\.hex"/);
});
