/**
 * Bad input on the MQTT WebSocket endpoint: malformed WebSocket framing on raw connections, and a fuzz test
 * of random and mutated MQTT packets in WebSocket messages (text, binary, fragmented, empty, oversized)
 * while an MQTT.js client over WebSocket counts every message it is sent.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker } from "../../helpers/broker.ts";
import { fuzzUnit, withSeed } from "../../helpers/fuzz.ts";
import {
  closeFrame,
  expectBadFramingCloses,
  fuzzFrame,
  OP,
  wsExchange,
  wsFrame,
} from "../../helpers/ws_raw.ts";
import { Collector, waitFor, within } from "../../helpers/wait.ts";
import { CONNECT, fuzzSeeds } from "./packets.ts";

const opts = {
  plugins: [{
    use: "mqtt",
    options: {
      port: 0,
      wsPort: 0,
      hostname: "127.0.0.1",
      sysIntervalMs: 0,
      maxPacketSize: 4096,
      connectTimeoutMs: 500,
    },
  }],
};

Deno.test("mqtt ws bad input: malformed WebSocket framing ends the connection, before and after CONNECT", async () => {
  const tb = await startBroker(opts);
  const port = tb.ports["mqtt:ws"];
  try {
    await expectBadFramingCloses(port, "/mqtt", "mqtt");
    await expectBadFramingCloses(port, "/mqtt", "mqtt", [wsFrame(OP.binary, CONNECT())]);
    // A text frame is a protocol error for MQTT [MQTT-6.0.0-1]: closed without a CONNACK.
    const text = await wsExchange(port, "/mqtt", "mqtt", [
      wsFrame(OP.text, new TextDecoder().decode(CONNECT())),
      closeFrame(1000), // answers the broker's close (see the test below)
    ]);
    assert.equal(text.frames.filter((f) => f.opcode === OP.binary).length, 0, "no CONNACK");
    await waitFor(() => tb.broker.connections().length === 0, "every connection gone");
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt ws fuzz: 10,000 random and mutated packets in WebSocket messages; a WebSocket client loses nothing", async () => {
  const tb = await startBroker(opts);
  const port = tb.ports["mqtt:ws"];
  const url = `ws://127.0.0.1:${port}/mqtt`;
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
    await side.subscribeAsync("side/ws", { qos: 1 });
    const valid = fuzzSeeds();
    const sentToSide: string[] = [];
    await withSeed(17, async (rnd) => {
      for (let round = 0, sent = 0; sent < 10_000; round++) {
        const frames: Uint8Array[] = [wsFrame(OP.binary, CONNECT(4, `fz${round}`))];
        for (let i = 0; i < 50; i++, sent++) {
          frames.push(...fuzzFrame(rnd, fuzzUnit(rnd, valid, { maxGarbage: 64, maxMutations: 4 }), 8192));
        }
        frames.push(closeFrame(1000));
        // The side client's messages go out while the fuzz runs; every one must arrive.
        const m = `m${round}`;
        sentToSide.push(m);
        const published = pub.publishAsync("side/ws", m, { qos: 1 });
        // Whatever the broker made of the input, the connection ends: a hang rejects.
        await wsExchange(port, "/mqtt", "mqtt", frames);
        await published;
        if (round % 20 === 0) await got.atLeast(sentToSide.length);
      }
      assert.deepEqual(await got.atLeast(sentToSide.length), sentToSide);
      await waitFor(() => tb.broker.connections().length === 2, "only the two clients left");
      assert.ok(side.connected && pub.connected);
    });
  } finally {
    side.end(true);
    pub.end(true);
    await tb.stop();
  }
});

// Deno's server WebSocket waits for the peer's close frame after close() and offers no way to drop the TCP
// connection: a client that never answers (silent, or vanished without a FIN) keeps its socket forever.
Deno.test({
  name: "mqtt ws: a client that never answers the broker's close frame is still disconnected",
  ignore: true, // defect: needs a transport that can drop the connection (see the report)
  async fn() {
    const tb = await startBroker(opts); // connectTimeoutMs 500
    try {
      const r = await wsExchange(tb.ports["mqtt:ws"], "/mqtt", "mqtt", [], { timeoutMs: 5000 });
      assert.equal(r.frames.at(-1)?.opcode, OP.close);
    } finally {
      await tb.stop();
    }
  },
});
