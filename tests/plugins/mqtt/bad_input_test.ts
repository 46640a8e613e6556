import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { fuzzUnit, prng } from "../../helpers/fuzz.ts";
import { exchange as rawExchange } from "../../helpers/raw.ts";
import { Collector, within } from "../../helpers/wait.ts";
import { CONNECT, fuzzSeeds, gen } from "./packets.ts";

const opts = {
  plugins: [{
    use: "mqtt",
    options: {
      port: 0,
      wsPort: -1,
      hostname: "127.0.0.1",
      sysIntervalMs: 0,
      maxPacketSize: 4096,
      connectTimeoutMs: 500,
    },
  }],
};

/** Sends `chunks` on a raw socket and returns everything the broker wrote until it closed the socket. */
const exchange = (tb: TestBroker, chunks: Uint8Array[], replyFirst = false) =>
  rawExchange(tb.ports["mqtt:tcp"], chunks, { replyFirst });

Deno.test("mqtt bad input: a packet before CONNECT closes the connection", async () => {
  const tb = await startBroker(opts);
  try {
    const out = await exchange(tb, [gen({ cmd: "pingreq" })]);
    assert.equal(out.length, 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt bad input: an unsupported protocol level gets CONNACK 0x01, then close", async () => {
  const tb = await startBroker(opts);
  try {
    const bad = CONNECT(4);
    bad[8] = 9; // protocol level byte of "MQTT" connect
    const out = await exchange(tb, [bad]);
    assert.deepEqual([...out], [0x20, 2, 0, 1]);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt bad input: oversize, wildcard topic, QoS 3 and a second CONNECT each end the connection", async () => {
  const tb = await startBroker(opts);
  try {
    const big = gen({
      cmd: "publish",
      topic: "a",
      payload: new Uint8Array(10_000),
      qos: 0,
      retain: false,
      dup: false,
    });
    const wild = gen({
      cmd: "publish",
      topic: "a/+",
      payload: new Uint8Array(1),
      qos: 0,
      retain: false,
      dup: false,
    });
    const qos3 = gen({
      cmd: "publish",
      topic: "a",
      payload: new Uint8Array(1),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
    });
    qos3[0] |= 0x06; // QoS bits 11
    for (const bad of [big, wild, qos3, CONNECT()]) {
      const out = await exchange(tb, [CONNECT(), bad], true);
      assert.deepEqual([...out.subarray(0, 4)], [0x20, 2, 0, 0], "CONNACK first");
      assert.equal(out.length, 4, "nothing after the CONNACK");
    }
    // MQTT 5: the oversize packet gets DISCONNECT 0x95.
    const out5 = await exchange(tb, [
      CONNECT(5, "v5"),
      gen(
        { cmd: "publish", topic: "a", payload: new Uint8Array(10_000), qos: 0, retain: false, dup: false },
        5,
      ),
    ], true);
    const idx = out5.indexOf(0xe0);
    assert.ok(idx > 0, "a DISCONNECT packet");
    assert.equal(out5[idx + 2], 0x95);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt bad input: a client that never sends CONNECT is dropped after connectTimeoutMs", async () => {
  const tb = await startBroker(opts);
  try {
    const out = await exchange(tb, []);
    assert.equal(out.length, 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt fuzz: 10,000 random and mutated packets; the broker stays up and a client keeps receiving", async () => {
  const tb = await startBroker(opts);
  const url = `mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`;
  const side = mqtt.connect(url, { reconnectPeriod: 0 });
  const pub = mqtt.connect(url, { reconnectPeriod: 0 });
  try {
    await within(
      Promise.all([new Promise((r) => side.once("connect", r)), new Promise((r) => pub.once("connect", r))]),
      5000,
      "clients",
    );
    const got = new Collector<string>();
    side.on("message", (_t, p) => got.push(new TextDecoder().decode(p)));
    await side.subscribeAsync("fuzz/side", { qos: 1 });
    const rnd = prng(7);
    const valid = fuzzSeeds();
    let sent = 0, round = 0;
    while (sent < 10_000) {
      const chunks: Uint8Array[] = [CONNECT(4, `fz${round}`)];
      for (let i = 0; i < 50; i++, sent++) {
        chunks.push(fuzzUnit(rnd, valid, { maxGarbage: 64, maxMutations: 4 }));
      }
      // Whatever it made of the input, the broker closes the connection once the input ends.
      await rawExchange(tb.ports["mqtt:tcp"], chunks, { endInput: true });
      if (round++ % 20 === 0) {
        await pub.publishAsync("fuzz/side", `alive ${round}`, { qos: 1 });
        await got.atLeast(Math.floor(round / 20) + 1);
      }
    }
    await pub.publishAsync("fuzz/side", "final", { qos: 1 });
    const items = await got.atLeast(Math.ceil(round / 20) + 1);
    assert.equal(items.at(-1), "final");
    assert.ok(sent >= 10_000);
  } finally {
    side.end(true);
    pub.end(true);
    await tb.stop();
  }
});

Deno.test("mqtt bad input: a CONNECT trickled a byte at a time must still be whole within connectTimeoutMs", async () => {
  const tb = await startBroker(opts); // connectTimeoutMs 500
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports["mqtt:tcp"] });
  try {
    // Long enough that trickling it would take ten seconds.
    const connect = CONNECT(4, "slow-loris-".repeat(10));
    let open = true;
    const trickle = (async () => {
      for (let i = 0; open && i < connect.length - 1; i++) {
        await conn.write(connect.subarray(i, i + 1)).catch(() => open = false);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const closed = (async () => {
      const buf = new Uint8Array(64);
      while ((await conn.read(buf).catch(() => null)) !== null) { /* until the broker closes */ }
    })();
    await within(closed, 3000, "the broker to close the connection").finally(() => open = false);
    await trickle;
  } finally {
    conn.close();
    await tb.stop();
  }
});
