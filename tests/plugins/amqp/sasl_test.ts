/**
 * SASL against the authenticate gate: a refusal is the sasl-outcome `auth` (code 1, AMQP 1.0 part
 * 5.3.3.6) and ends the connection; a grant opens the session at the open, under the container id, with
 * the gate asked and the login hooks fired once.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import rhea from "rhea";
import frames from "rhea/lib/frames.js";
import { DEFER } from "../../../mod.ts";
// For the `users` service's type.
import type {} from "../../../plugins/auth/mod.ts";
import { amqpClose, amqpConnect, type AmqpConnection, amqpRoundTrip } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { exchange } from "../../helpers/raw.ts";
import { ALICE_AND_BOB } from "../../helpers/users.ts";
import { waitFor, within } from "../../helpers/wait.ts";

const amqp = { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } };
const auth = (anonymous: "off" | "loopback") => ({
  use: "auth",
  options: { anonymous, users: [{ username: "alice", password: "a-pw" }], maxFailures: 100 },
});

/** The error a connection that should not open ends with, as the rhea client reports it. */
function refusal(tb: TestBroker, opts: Record<string, unknown>): Promise<string> {
  const conn = rhea.create_container({ id: "refused-app" }).connect({
    port: tb.ports["amqp:tcp"],
    host: "127.0.0.1",
    reconnect: false,
    ...opts,
  });
  return within(
    new Promise((resolve, reject) => {
      conn.once("connection_open", () => reject(new Error("opened")));
      conn.once(
        "connection_error",
        (c: AmqpConnection) => resolve(`${c.error.condition} ${c.error.description}`),
      );
      conn.on("disconnected", () => {});
    }),
    5000,
    "SASL refusal",
  );
}

/** Counts the gate's calls and records the login events with the client id they name. */
function watchLogins(tb: TestBroker) {
  const seen = { gate: 0, events: [] as string[] };
  tb.broker.hooks.on("test", "authenticate", () => (seen.gate++, DEFER), { priority: 1000 });
  tb.broker.hooks.on("test", "authenticated", (e) => seen.events.push(`authenticated ${e.client.clientId}`));
  tb.broker.hooks.on("test", "authFailed", (e) => seen.events.push(`authFailed ${e.client.clientId}`));
  tb.broker.hooks.on("test", "connected", (e) => seen.events.push(`connected ${e.client.clientId}`));
  return seen;
}

Deno.test("amqp sasl: a wrong password is the outcome auth and a counted failure; the right one opens under the container id", async () => {
  const tb = await startBroker({ plugins: [auth("off"), amqp] });
  const seen = watchLogins(tb);
  try {
    assert.equal(
      await refusal(tb, { username: "alice", password: "nope" }),
      "amqp:unauthorized-access Failed to authenticate: 1",
    );
    assert.deepEqual(tb.broker.host.service("users")!.failedLogins().byAddress, { "127.0.0.1": 1 });
    assert.equal(seen.gate, 1);
    assert.equal(seen.events.length, 1);
    assert.match(seen.events[0], /^authFailed amqp-sasl-127\.0\.0\.1:\d+$/);
    assert.equal(tb.broker.connections().length, 0);

    const conn = await amqpConnect(tb.ports["amqp:tcp"], { username: "alice", password: "a-pw" }, "the-app");
    const session = await waitFor(() => tb.broker.connections()[0], "session");
    assert.equal(session.user, "alice");
    assert.equal(session.clientId, "the-app");
    assert.equal(seen.gate, 2, "the gate is asked at SASL time, not again at the open");
    assert.deepEqual(seen.events.slice(1), ["authenticated the-app", "connected the-app"]);
    await amqpClose(conn);
  } finally {
    await tb.stop();
  }
});

Deno.test("amqp sasl: ANONYMOUS asks the gate too: refused at SASL when anonymous access is off, else opens", async () => {
  // rhea's client picks ANONYMOUS for a user name without a password.
  const off = await startBroker({ plugins: [auth("off"), amqp] });
  try {
    assert.equal(
      await refusal(off, { username: "anyone" }),
      "amqp:unauthorized-access Failed to authenticate: 1",
    );
  } finally {
    await off.stop();
  }
  const loopback = await startBroker({ plugins: [auth("loopback"), amqp] });
  try {
    const conn = await amqpConnect(loopback.ports["amqp:tcp"], { username: "anyone" });
    assert.equal((await waitFor(() => loopback.broker.connections()[0], "session")).user, "anonymous");
    await amqpClose(conn);
  } finally {
    await loopback.stop();
  }
});

Deno.test("amqp sasl: without an auth plugin PLAIN opens as the user named, and no login is reported", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const events: string[] = [];
  tb.broker.hooks.on("test", "authenticated", () => events.push("authenticated"));
  tb.broker.hooks.on("test", "connected", (e) => events.push(`connected ${e.principal?.id}`));
  try {
    const conn = await amqpConnect(tb.ports["amqp:tcp"], { username: "bob", password: "any" });
    await waitFor(() => events.length > 0, "connected");
    assert.deepEqual(events, ["connected bob"]);
    await amqpClose(conn);
  } finally {
    await tb.stop();
  }
});

Deno.test("amqp sasl: the broker ends the connection after a failed outcome (no second try on it)", async () => {
  const tb = await startBroker({ plugins: [auth("off"), amqp] });
  try {
    const init = frames.write_frame(
      frames.sasl_frame(
        frames.sasl_init({ mechanism: "PLAIN", initial_response: Buffer.from("\0alice\0nope") }),
      ),
    );
    const answer = saslAnswer(await exchange(tb.ports["amqp:tcp"], [SASL_HEADER, init], { timeoutMs: 2000 }));
    assert.deepEqual(answer.codes, [1]);
  } finally {
    await tb.stop();
  }
});

const SASL_HEADER = "AMQP\x03\x01\x00\x00";

/**
 * What the broker wrote after its SASL header: the performative of each frame (0x40 sasl-mechanisms... 0x44
 * sasl-outcome) and the outcome codes. The answers are given well before the connect timeout (10 s), which
 * would end the connection too.
 */
function saslAnswer(out: Uint8Array): { performatives: number[]; codes: number[] } {
  assert.equal(new TextDecoder().decode(out.subarray(0, 8)), SASL_HEADER, "the broker answered");
  const answer = { performatives: [] as number[], codes: [] as number[] };
  for (let at = 8; at < out.length;) {
    const size = new DataView(out.buffer, out.byteOffset + at).getUint32(0);
    const frame = frames.read_frame(Buffer.from(out.subarray(at, at + size)));
    answer.performatives.push(Number(frame.performative.constructor.descriptor.numeric));
    if (frame.performative.code !== undefined) answer.codes.push(frame.performative.code);
    at += size;
  }
  return answer;
}

Deno.test("amqp sasl: bad SASL input gets the outcome auth, then the socket ends; other clients go on", async () => {
  const tb = await startBroker({ plugins: [ALICE_AND_BOB, amqp] });
  const port = tb.ports["amqp:tcp"];
  const side = await amqpConnect(port, { username: "alice", password: "a-pw" });
  try {
    const sasl = (performative: unknown) => frames.write_frame(frames.sasl_frame(performative));
    const alice = sasl(
      frames.sasl_init({ mechanism: "PLAIN", initial_response: Buffer.from("\0alice\0a-pw") }),
    );
    // sasl-init{mechanism: a symbol of 9 bytes with 2 there}
    const garbled = new Uint8Array([
      0,
      0,
      0,
      18,
      2,
      1,
      0,
      0,
      0x00,
      0x53,
      0x41,
      0xc0,
      0x05,
      0x01,
      0xa3,
      0x09,
      0x50,
      0x4c,
    ]);
    const cases: [string, Uint8Array[]][] = [
      ["an init that does not decode", [garbled]],
      ["an init naming a mechanism not offered", [sasl(frames.sasl_init({ mechanism: "NOPE" }))]],
      ["a response without an init", [sasl(frames.sasl_response({ response: Buffer.from("x") }))]],
      ["an AMQP frame", [frames.write_frame(frames.amqp_frame(0, frames.open({ container_id: "x" })))]],
      // Bad input while the good init is being checked: its outcome is not sent.
      ["a bad frame after a good init", [alice, garbled]],
      ["a second init", [alice, alice]],
    ];
    for (const [what, input] of cases) {
      // In one write, so that the broker reads all of it at once.
      const bytes = new Uint8Array(input.reduce((n, b) => n + b.length, 0));
      input.reduce((at, b) => (bytes.set(b, at), at + b.length), 0);
      const answer = saslAnswer(await exchange(port, [SASL_HEADER, bytes], { timeoutMs: 2000 }));
      assert.deepEqual(answer, { performatives: [0x40, 0x44], codes: [1] }, what);
    }
    assert.equal(await amqpRoundTrip(side, "queue://sasl.side", "still here"), "still here");
  } finally {
    await amqpClose(side);
    await tb.stop();
  }
});

Deno.test("amqp sasl: a header after SASL other than AMQP 1.0.0's is answered with ours, after the outcome, then the socket ends", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  try {
    const init = new Uint8Array(
      frames.write_frame(frames.sasl_frame(frames.sasl_init({ mechanism: "ANONYMOUS" }))),
    );
    for (const second of ["AMQP\x03\x01\x00\x00", "AMQP\x00\x02\x00\x00"]) {
      const out = await exchange(tb.ports["amqp:tcp"], [SASL_HEADER, init, second], { timeoutMs: 2000 });
      const text = new TextDecoder("latin1").decode(out);
      // The SASL exchange is answered in full (the mechanisms, the outcome ok), then our header ends it.
      assert.ok(text.startsWith(SASL_HEADER), JSON.stringify(second));
      assert.ok(text.endsWith("AMQP\x00\x01\x00\x00"), JSON.stringify(second));
      assert.deepEqual(saslAnswer(out.subarray(0, out.length - 8)), {
        performatives: [0x40, 0x44],
        codes: [0],
      });
    }
  } finally {
    await tb.stop();
  }
});
