import assert from "node:assert/strict";
import { Client } from "@stomp/stompjs";
import { TCPWrapper } from "@stomp/tcp-wrapper";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { fuzzUnit, prng } from "../../helpers/fuzz.ts";
import { exchange as rawExchange } from "../../helpers/raw.ts";
import { Collector, deferred, within } from "../../helpers/wait.ts";
import { fuzzSeeds } from "./frames.ts";

const opts = {
  plugins: [{
    use: "stomp",
    options: {
      port: 0,
      wsPort: -1,
      hostname: "127.0.0.1",
      heartBeatMs: 100,
      maxBodySize: 1024,
      maxHeaders: 8,
      connectTimeoutMs: 500,
    },
  }],
};
const enc = new TextEncoder();
const CONNECT = enc.encode("CONNECT\naccept-version:1.2\nhost:x\n\n\0");

/** Writes `chunks` and returns what the broker sent until it closed the socket. */
const exchange = async (tb: TestBroker, chunks: (Uint8Array | string)[]): Promise<string> =>
  new TextDecoder().decode(await rawExchange(tb.ports["stomp:tcp"], chunks));

const BAD: [string, (Uint8Array | string)[], RegExp][] = [
  ["a frame before CONNECT", ["SEND\ndestination:/queue/a\n\nx\0"], /before CONNECT/],
  ["an unknown command", [CONNECT, "FROB\n\n\0"], /unknown command/],
  ["SEND without destination", [CONNECT, "SEND\n\nx\0"], /Missing destination/],
  ["SUBSCRIBE without id on 1.2", [CONNECT, "SUBSCRIBE\ndestination:/queue/a\n\n\0"], /needs an id/],
  [
    "a body longer than content-length",
    [CONNECT, "SEND\ndestination:/queue/a\ncontent-length:1\n\nxy\0"],
    /longer than content-length/,
  ],
  ["a body over the limit", [CONNECT, `SEND\ndestination:/queue/a\n\n${"x".repeat(2000)}\0`], /exceeds/],
  ["too many headers", [
    CONNECT,
    "SEND\n" + Array.from({ length: 20 }, (_, i) => `h${i}:v\n`).join("") + "\n\0",
  ], /headers/],
  ["a too long header line", [CONNECT, `SEND\nx:${"y".repeat(10_000)}\n\n\0`], /too long/],
  ["invalid UTF-8 in a header", [
    CONNECT,
    new Uint8Array([...enc.encode("SEND\nx:"), 0xff, 0xfe, ...enc.encode("\n\n\0")]),
  ], /UTF-8/],
  ["a bad escape", [CONNECT, "SEND\ndestination:/queue/a\nx:\\t\n\n\0"], /escape/],
  ["an unsupported version", ["CONNECT\naccept-version:9.9\n\n\0"], /versions/],
  ["a durable subscription without a client-id", [
    CONNECT,
    "SUBSCRIBE\nid:1\ndestination:/topic/t\ndurable-subscription-name:d\n\n\0",
  ], /client-id/],
];

for (const [what, chunks, expected] of BAD) {
  Deno.test(`stomp bad input: ${what} gets an ERROR frame and a close`, async () => {
    const tb = await startBroker(opts);
    try {
      const out = await exchange(tb, chunks);
      const err = out.slice(out.indexOf("ERROR\n"));
      assert.ok(out.includes("ERROR\n"), `no ERROR frame in ${JSON.stringify(out)}`);
      assert.match(/message:([^\n]*)/.exec(err)?.[1] ?? "", expected);
    } finally {
      await tb.stop();
    }
  });
}

Deno.test("stomp: a silent peer is disconnected after twice its heart-beat interval", async () => {
  const tb = await startBroker(opts);
  try {
    const out = await exchange(tb, ["CONNECT\naccept-version:1.2\nheart-beat:100,0\n\n\0"]);
    assert.match(out, /^CONNECTED\n/);
  } finally {
    await tb.stop();
  }
});

Deno.test("stomp fuzz: 10,000 random and mutated frames; the broker stays up and a client keeps receiving", async () => {
  const tb = await startBroker(opts);
  const ready = deferred<void>();
  const side = new Client({
    webSocketFactory: () => new TCPWrapper("127.0.0.1", tb.ports["stomp:tcp"]),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    onConnect: () => ready.resolve(),
  });
  side.activate();
  try {
    await within(ready.promise, 5000, "side client");
    const got = new Collector<string>();
    side.subscribe("/topic/side", (m) => got.push(m.body));
    const rnd = prng(11);
    const valid = fuzzSeeds();
    let sent = 0, round = 0;
    while (sent < 10_000) {
      const chunks: Uint8Array[] = [CONNECT];
      for (let i = 0; i < 50; i++, sent++) {
        chunks.push(fuzzUnit(rnd, valid, { maxGarbage: 80, maxMutations: 3 }));
      }
      chunks.push(enc.encode("DISCONNECT\n\n\0"));
      // Whatever it made of the input, the broker closes the connection once the input ends.
      await rawExchange(tb.ports["stomp:tcp"], chunks, { endInput: true });
      if (round++ % 20 === 0) {
        side.publish({ destination: "/topic/side", body: `alive ${round}` });
        await got.atLeast(Math.floor(round / 20) + 1);
      }
    }
    side.publish({ destination: "/topic/side", body: "final" });
    const items = await got.atLeast(Math.ceil(round / 20) + 1);
    assert.equal(items.at(-1), "final");
  } finally {
    await side.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: the DISCONNECT receipt comes after the receipts of every frame before it", async () => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, ...opts.plugins] });
  try {
    const sends = Array.from(
      { length: 5 },
      (_, i) => `SEND\ndestination:/queue/d\npersistent:true\nreceipt:s${i}\n\nm${i}\0`,
    );
    const out = await exchange(tb, [CONNECT, sends.join("") + "DISCONNECT\nreceipt:bye\n\n\0"]);
    const receipts = [...out.matchAll(/receipt-id:([^\n]*)/g)].map((m) => m[1]);
    assert.deepEqual(receipts, ["s0", "s1", "s2", "s3", "s4", "bye"]);
    assert.equal(tb.broker.queue("d")!.pending, 5);
  } finally {
    await tb.stop();
  }
});

Deno.test("stomp: heart-beats under a second are sent on time", async () => {
  const tb = await startBroker(opts); // heartBeatMs 100
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports["stomp:tcp"] });
  try {
    await conn.write(enc.encode("CONNECT\naccept-version:1.2\nheart-beat:0,100\n\n\0"));
    // Every read after CONNECTED is a beat (EOL); a second of them, at 100 ms, is about ten.
    const beats: number[] = [];
    const buf = new Uint8Array(1024);
    let text = "";
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      const chunk = new TextDecoder().decode(buf.subarray(0, n));
      if (text.includes("\0")) beats.push(Date.now());
      text += chunk;
    }
    assert.ok(beats.length >= 6, `${beats.length} beats in a second`);
  } finally {
    conn.close();
    await tb.stop();
  }
});

Deno.test("stomp bad input: the frames before a bad one are handled before the ERROR", async () => {
  const tb = await startBroker(opts);
  try {
    const out = await exchange(tb, [
      "CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:/queue/first\nreceipt:r\n\nkept\0FROB\n\n\0",
    ]);
    assert.match(out, /^CONNECTED\n[\s\S]*RECEIPT\nreceipt-id:r\n[\s\S]*ERROR\n/);
    assert.equal(tb.broker.queue("first")!.pending, 1);
  } finally {
    await tb.stop();
  }
});

Deno.test("stomp: a client that trickles bytes must still CONNECT within connectTimeoutMs", async () => {
  const tb = await startBroker(opts); // connectTimeoutMs 500
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports["stomp:tcp"] });
  try {
    const t0 = Date.now();
    let open = true;
    // Heart-beat EOLs every 100 ms, never a CONNECT: each would have refreshed a deadline counted from input.
    const beating = (async () => {
      while (open) {
        await conn.write(enc.encode("\n")).catch(() => open = false);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const buf = new Uint8Array(64);
    const closed = (async () => {
      while ((await conn.read(buf).catch(() => null)) !== null) { /* until the broker closes */ }
    })();
    await within(closed, 3000, "the broker to close the connection").finally(() => open = false);
    await beating;
    assert.ok(Date.now() - t0 < 3000, `closed after ${Date.now() - t0} ms`);
  } finally {
    conn.close();
    await tb.stop();
  }
});

Deno.test("stomp: header names like constructor or toString are headers like any other", async () => {
  const tb = await startBroker(opts);
  const got = new Collector<Record<string, unknown>>();
  await tb.broker.subscribe(
    { kind: "queue", destination: "names", ack: "auto" },
    (d) => got.push(d.message.properties),
  );
  try {
    await exchange(tb, [
      CONNECT,
      "SEND\ndestination:/queue/names\nconstructor:c\ntoString:t\nvalueOf:v\nhasOwnProperty:h\n\nx\0DISCONNECT\n\n\0",
    ]);
    const [props] = await got.atLeast(1);
    assert.deepEqual(
      [props.constructor, props.toString, props.valueOf, props.hasOwnProperty],
      ["c", "t", "v", "h"],
    );
  } finally {
    await tb.stop();
  }
});
