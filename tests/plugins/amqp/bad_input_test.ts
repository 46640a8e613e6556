/**
 * Bad input on the AMQP port: frames and messages over the limits, and a fuzz test that replays the frames
 * of real rhea sessions (with and without SASL) with random bytes changed, garbage frames between them and
 * the size fields broken, on many raw connections.
 *
 * @module
 */
import assert from "node:assert/strict";
import frames from "rhea/lib/frames.js";
import { amqpClose, amqpConnect, type AmqpConnection, amqpRoundTrip } from "../../helpers/amqp.ts";
import { startBroker } from "../../helpers/broker.ts";
import { exchange } from "../../helpers/raw.ts";
import { Collector, within } from "../../helpers/wait.ts";

const amqp = { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } };
const limits = { ...amqp, options: { ...amqp.options, maxFrameSize: 4096, maxMessageSize: 10240 } };

/** Every byte a rhea client sends in `session`, captured by a proxy in front of the broker. */
async function record(port: number, opts: Record<string, unknown>): Promise<Uint8Array> {
  const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sent: Uint8Array[] = [];
  const piping = (async () => {
    const client = await proxy.accept();
    const broker = await Deno.connect({ hostname: "127.0.0.1", port });
    const toBroker = (async () => {
      for await (const chunk of client.readable) {
        sent.push(chunk.slice());
        await broker.write(chunk);
      }
    })().catch(() => {});
    await broker.readable.pipeTo(client.writable).catch(() => {});
    await toBroker;
  })();
  const conn = await amqpConnect((proxy.addr as Deno.NetAddr).port, opts);
  await session(conn);
  await amqpClose(conn);
  await within(piping, 5000, "the recorded session to end");
  proxy.close();
  const out = new Uint8Array(sent.reduce((n, c) => n + c.length, 0));
  sent.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}

/** A sender and a receiver on a queue, a topic receiver, a settled delivery, a detach. */
async function session(conn: AmqpConnection): Promise<void> {
  const got = new Collector<unknown>();
  const r = conn.open_receiver({ source: { address: "queue://fz" }, autoaccept: true });
  r.on("message", (e: AmqpConnection) => got.push(e.message.body));
  const t = conn.open_receiver("topic://fz/t");
  const s = conn.open_sender("queue://fz");
  await within(new Promise((ok) => s.once("sendable", ok)), 5000, "sendable");
  s.send({
    body: "one",
    application_properties: { k: 1 },
    message_annotations: { "x-opt-a": "b" },
    ttl: 60000,
  });
  s.send({ body: new Uint8Array([1, 2, 3]), subject: "two", priority: 7 });
  await got.atLeast(2);
  await within(new Promise((ok) => (t.once("receiver_close", ok), t.close())), 5000, "detach");
}

/** The stream cut into its protocol headers and its frames (each a 4-byte size first). */
function units(stream: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(stream.buffer, stream.byteOffset);
  for (let at = 0; at < stream.length;) {
    const n = stream[at] === 0x41 ? 8 : view.getUint32(at); // "AMQP" header, or a frame's size
    out.push(stream.subarray(at, at + n));
    at += n;
  }
  return out;
}

Deno.test("amqp fuzz: 10,000 random and mutated frames; the broker stays up and a client keeps receiving", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const port = tb.ports["amqp:tcp"];
  const side = await amqpConnect(port);
  try {
    const recorded = [
      units(await record(port, {})),
      units(await record(port, { username: "u", password: "p" })),
    ];
    assert.ok(recorded.every((r) => r.length > 10), "the recorded sessions have their frames");
    const got = new Collector<string>();
    side.open_receiver("queue://side").on("message", (e: AmqpConnection) => got.push(e.message.body));
    const sender = side.open_sender("queue://side");
    await within(new Promise((ok) => sender.once("sendable", ok)), 5000, "sendable");

    let seed = 11;
    // The high bits: a power-of-two LCG's low bits repeat with short periods.
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 8) % n;
    };
    let sent = 0, round = 0, alive = 0;
    while (sent < 10_000) {
      const frames = recorded[rnd(2)];
      const chunks: Uint8Array[] = [];
      // The session as recorded up to a random frame, then broken from there on: every stage of a connection
      // (header, SASL, open, begin, attach, transfer, detach) gets its share of the bad input.
      const intact = rnd(frames.length);
      for (let i = 0; i < 25; i++, sent++) {
        const kind = i < intact ? 8 : rnd(8);
        let unit: Uint8Array;
        if (kind === 0) unit = new Uint8Array(1 + rnd(64)).map(() => rnd(256));
        else unit = frames[kind === 1 ? rnd(frames.length) : i % frames.length].slice();
        if (kind > 1 && kind < 8 && rnd(2) === 0) {
          for (let k = 0, n = 1 + rnd(4); k < n; k++) unit[rnd(unit.length)] = rnd(256);
        }
        chunks.push(unit);
      }
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        for (const c of chunks) await conn.write(c);
        await conn.closeWrite();
      } catch { /* the broker closed first */ }
      // Whatever it made of the input, the broker closes the connection once the input ends.
      await within(
        (async () => {
          const buf = new Uint8Array(4096);
          while (await conn.read(buf).catch(() => null) !== null);
        })(),
        5000,
        `the broker to close fuzz connection ${round}`,
      );
      conn.close();
      if (round++ % 20 === 0) {
        sender.send({ body: `alive ${round}` });
        await got.atLeast(++alive);
      }
    }
    sender.send({ body: "final" });
    const items = await got.atLeast(alive + 1);
    assert.equal(items.at(-1), "final");
  } finally {
    await amqpClose(side);
    await tb.stop();
  }
});

Deno.test("amqp bad input: a frame over max-frame-size closes the connection with amqp:connection:framing-error", async () => {
  const tb = await startBroker({ plugins: [limits] });
  try {
    const [header, open] = units(await record(tb.ports["amqp:tcp"], {}));
    const big = new Uint8Array(64);
    new DataView(big.buffer).setUint32(0, 2 ** 30); // announces 1 GiB; the broker must not wait for it
    const out = new TextDecoder().decode(await exchange(tb.ports["amqp:tcp"], [header, open, big]));
    assert.match(out, /amqp:connection:framing-error/);
    assert.match(out, /Frame of 1073741824 bytes exceeds max-frame-size 4096/);
  } finally {
    await tb.stop();
  }
});

/** An AMQP frame on channel 0 with `body` after the 8-byte header; `doff` is the data offset in words. */
function frame(body: number[], doff = 2): Uint8Array {
  const f = new Uint8Array(8 + body.length);
  new DataView(f.buffer).setUint32(0, f.length);
  f[4] = doff;
  f.set(body, 8);
  return f;
}

/** The performative descriptors of the broker's frames (0x10 open, 0x18 close...) and its output as text. */
function answer(out: Uint8Array): { performatives: number[]; text: string } {
  assert.equal(new TextDecoder().decode(out.subarray(0, 4)), "AMQP", "the broker answered");
  const [, ...frames] = units(out);
  // Each frame: size, data offset 2, type, channel, then 0x00 0x53 <descriptor> (a small ulong).
  return { performatives: frames.map((f) => f[10]), text: new TextDecoder().decode(out) };
}

Deno.test("amqp bad input: a frame that cannot be read is answered with a close naming the error", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const port = tb.ports["amqp:tcp"];
  try {
    const [header, open] = units(await record(port, {}));
    const cases: [string, Uint8Array, string][] = [
      ["unknown performative", frame([0x00, 0x53, 0x99, 0x45]), "amqp:decode-error"],
      // begin{remote-channel: a uint cut short}
      ["truncated field", frame([0x00, 0x53, 0x11, 0xc0, 0x03, 0x01, 0x70, 0xff]), "amqp:decode-error"],
      ["bad typecode", frame([0x00, 0x53, 0x11, 0xc0, 0x02, 0x01, 0xff]), "amqp:decode-error"],
      ["data offset under 2", frame([0x00, 0x53, 0x11, 0x45], 1), "amqp:connection:framing-error"],
      ["frame shorter than its header", new Uint8Array([0, 0, 0, 6, 2, 0]), "amqp:connection:framing-error"],
    ];
    for (const [what, bad, condition] of cases) {
      // The bad frame after a good open, and the same with a good frame behind it, which is not read.
      for (const after of [[], [frame([0x00, 0x53, 0x11, 0x45])]]) {
        const out = answer(await exchange(port, [header, open, bad, ...after], { timeoutMs: 3000 }));
        assert.deepEqual(out.performatives, [0x10, 0x18], `${what}: open, then close`);
        assert.ok(out.text.includes(condition), `${what}: ${condition} in ${JSON.stringify(out.text)}`);
      }
    }
    // A broken open: the broker opens, to close at once.
    const badOpen = frame([0x00, 0x53, 0x10, 0xc0, 0x05, 0x02, 0xa1, 0x01, 0x78, 0xff]);
    const out = answer(await exchange(port, [header, badOpen], { timeoutMs: 3000 }));
    assert.deepEqual(out.performatives, [0x10, 0x18]);
    assert.ok(out.text.includes("amqp:decode-error"));
  } finally {
    await tb.stop();
  }
});

Deno.test("amqp bad input: a frame the connection's state does not allow is answered with a close; other clients go on", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const port = tb.ports["amqp:tcp"];
  const side = await amqpConnect(port);
  try {
    const [header, open] = units(await record(port, {}));
    const on = (channel: number, performative: unknown) =>
      frames.write_frame(frames.amqp_frame(channel, performative));
    const begin = on(0, frames.begin({ next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }));
    const attach = on(3, frames.attach({ name: "l", handle: 0, role: false }));
    const flow = on(
      0,
      frames.flow({ handle: 7, incoming_window: 100, next_outgoing_id: 0, outgoing_window: 100 }),
    );
    const saslInit = on(0, frames.sasl_init({ mechanism: "PLAIN" }));
    // What comes after the header and a good open; the broker's frames (0x10 open, 0x11 begin, 0x18 close).
    const cases: [string, Uint8Array[], number[], string][] = [
      ["a second open", [open], [0x10, 0x18], "amqp:illegal-state"],
      ["an attach on a channel not begun", [attach], [0x10, 0x18], "amqp:illegal-state"],
      ["a flow on a handle not attached", [begin, flow], [0x10, 0x11, 0x18], "amqp:illegal-state"],
      ["a SASL performative", [saslInit], [0x10, 0x18], "amqp:decode-error"],
    ];
    for (const [what, bad, performatives, condition] of cases) {
      const out = answer(await exchange(port, [header, open, ...bad], { timeoutMs: 3000 }));
      assert.deepEqual(out.performatives, performatives, what);
      assert.ok(out.text.includes(condition), `${what}: ${condition} in ${JSON.stringify(out.text)}`);
    }
    assert.equal(await amqpRoundTrip(side, "queue://bad.side", "still here"), "still here");
  } finally {
    await amqpClose(side);
    await tb.stop();
  }
});

Deno.test("amqp bad input: a message over the limit in many frames is rejected; the link goes on", async () => {
  const tb = await startBroker({ plugins: [limits] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    assert.equal(conn.max_frame_size, 4096, "max-frame-size is announced in open");
    const s = conn.open_sender("queue://big");
    await within(new Promise((ok) => s.once("sendable", ok)), 5000, "sendable");
    assert.equal(
      Number(s.remote.attach.max_message_size),
      10240,
      "max-message-size is announced on the link",
    );
    const outcome = (body: Uint8Array) =>
      within(
        new Promise<string>((resolve) => {
          const d = s.send({ body });
          s.on("accepted", (c: AmqpConnection) => c.delivery === d && resolve("accepted"));
          s.on("rejected", (c: AmqpConnection) =>
            c.delivery === d && resolve(`rejected ${c.delivery.remote_state?.error?.condition}`));
        }),
        5000,
        "disposition",
      );
    // rhea splits it into frames of the announced 4 KiB: the broker keeps none past the limit.
    assert.equal(await outcome(new Uint8Array(200_000)), "rejected amqp:resource-limit-exceeded");
    assert.equal(await outcome(new Uint8Array(5000)), "accepted");
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp bad input: a connection that does not open within connectTimeoutMs is closed", async () => {
  const tb = await startBroker({
    plugins: [{ ...amqp, options: { ...amqp.options, connectTimeoutMs: 200 } }],
  });
  try {
    const [header] = units(await record(tb.ports["amqp:tcp"], {}));
    // Nothing at all, then a header and no open: both end without the peer doing anything more.
    assert.equal((await exchange(tb.ports["amqp:tcp"], [], { timeoutMs: 3000 })).length, 0);
    const out = await exchange(tb.ports["amqp:tcp"], [header], { timeoutMs: 3000 });
    assert.equal(new TextDecoder().decode(out.subarray(0, 4)), "AMQP", "the broker answered the header");
  } finally {
    await tb.stop();
  }
});

Deno.test("amqp bad input: idle-time-out is announced, and a peer silent for twice that is closed", async () => {
  const tb = await startBroker({ plugins: [{ ...amqp, options: { ...amqp.options, idleTimeoutMs: 150 } }] });
  try {
    const conn = await amqpConnect(tb.ports["amqp:tcp"]);
    assert.equal(conn.remote.open.idle_time_out, 150);
    await amqpClose(conn); // rhea keeps it alive with empty frames until then
    const [header, open] = units(await record(tb.ports["amqp:tcp"], {}));
    const out = new TextDecoder().decode(
      await exchange(tb.ports["amqp:tcp"], [header, open], { timeoutMs: 3000 }),
    );
    assert.match(out, /amqp:resource-limit-exceeded/);
    assert.match(out, /max idle time exceeded/);
  } finally {
    await tb.stop();
  }
});

Deno.test("amqp bad input: a protocol header the broker does not speak is answered with one it does, then the socket ends", async () => {
  const tb = await startBroker({ plugins: [{ use: "amqp", options: { port: 0, hostname: "127.0.0.1" } }] });
  try {
    const answer = async (
      header: number[] | string,
    ) => [
      ...await exchange(tb.ports["amqp:tcp"], [typeof header === "string" ? header : new Uint8Array(header)]),
    ];
    const AMQP = [0x41, 0x4d, 0x51, 0x50];
    assert.deepEqual(await answer([...AMQP, 0, 2, 0, 0]), [...AMQP, 0, 1, 0, 0]);
    assert.deepEqual(await answer([...AMQP, 3, 0, 9, 1]), [...AMQP, 3, 1, 0, 0]);
    assert.deepEqual(await answer([...AMQP, 2, 1, 0, 0]), [...AMQP, 3, 1, 0, 0]);
    assert.deepEqual(await answer("GET / HTTP/1.1\r\n\r\n"), [...AMQP, 3, 1, 0, 0]);
  } finally {
    await tb.stop();
  }
});
