/**
 * Bad input on the STOMP WebSocket endpoint: malformed WebSocket framing on raw connections, and a fuzz test
 * of random and mutated frames in WebSocket messages (text, binary, fragmented, empty, oversized) while a
 * @stomp/stompjs client over WebSocket counts every message it is sent.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Client } from "@stomp/stompjs";
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
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";
import { fuzzSeeds } from "./frames.ts";

const opts = {
  plugins: [{
    use: "stomp",
    options: {
      port: 0,
      wsPort: 0,
      hostname: "127.0.0.1",
      heartBeatMs: 0,
      maxBodySize: 1024,
      maxHeaders: 8,
      connectTimeoutMs: 500,
    },
  }],
};
const CONNECT = "CONNECT\naccept-version:1.2\nhost:x\n\n\0";

Deno.test("stomp ws bad input: malformed WebSocket framing ends the connection, before and after CONNECT", async () => {
  const tb = await startBroker(opts);
  const port = tb.ports["stomp:ws"];
  try {
    await expectBadFramingCloses(port, "/stomp", "v12.stomp");
    await expectBadFramingCloses(port, "/stomp", "v12.stomp", [wsFrame(OP.text, CONNECT)]);
    await waitFor(() => tb.broker.connections().length === 0, "every connection gone");
  } finally {
    await tb.stop();
  }
});

Deno.test("stomp ws fuzz: 10,000 random and mutated frames in WebSocket messages; a WebSocket client loses nothing", async () => {
  const tb = await startBroker(opts);
  const port = tb.ports["stomp:ws"];
  const client = (onConnect: () => void) =>
    new Client({
      webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${port}/stomp`, ["v12.stomp"]),
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      onConnect,
    });
  const ready = [deferred<void>(), deferred<void>()];
  const side = client(() => ready[0].resolve());
  const pub = client(() => ready[1].resolve());
  side.activate();
  pub.activate();
  try {
    await within(Promise.all(ready.map((d) => d.promise)), 5000, "clients");
    const got = new Collector<string>();
    const subscribed = deferred<void>();
    side.watchForReceipt("sub", () => subscribed.resolve());
    side.subscribe("/topic/side.ws", (m) => got.push(m.body), { receipt: "sub" });
    await within(subscribed.promise, 5000, "subscribed");
    const valid = fuzzSeeds();
    const sentToSide: string[] = [];
    await withSeed(23, async (rnd) => {
      for (let round = 0, sent = 0; sent < 10_000; round++) {
        const frames: Uint8Array[] = [wsFrame(rnd(2) ? OP.text : OP.binary, CONNECT)];
        for (let i = 0; i < 50; i++, sent++) {
          frames.push(...fuzzFrame(rnd, fuzzUnit(rnd, valid, { maxGarbage: 80, maxMutations: 3 }), 4096));
        }
        frames.push(wsFrame(OP.text, "DISCONNECT\n\n\0"), closeFrame(1000));
        // The side client's messages go out while the fuzz runs; every one must arrive.
        const m = `m${round}`;
        sentToSide.push(m);
        pub.publish({ destination: "/topic/side.ws", body: m });
        // Whatever the broker made of the input, the connection ends: a hang rejects.
        await wsExchange(port, "/stomp", "v12.stomp", frames);
        if (round % 20 === 0) await got.atLeast(sentToSide.length);
      }
      assert.deepEqual(await got.atLeast(sentToSide.length), sentToSide);
      await waitFor(() => tb.broker.connections().length === 2, "only the two clients left");
      assert.ok(side.connected && pub.connected);
    });
  } finally {
    await side.deactivate();
    await pub.deactivate();
    await tb.stop();
  }
});
