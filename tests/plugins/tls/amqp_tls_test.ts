import assert from "node:assert/strict";
import rhea from "rhea";
import { amqpClose, amqpConnect } from "../../helpers/amqp.ts";
import { startBroker } from "../../helpers/broker.ts";
import { deferred, waitFor, within } from "../../helpers/wait.ts";
import { authPlugin, clientTls, testPki, tlsOption } from "./setup.ts";

const pki = await testPki();

function broker(clientCertificates: "optional" | "required") {
  return startBroker({
    plugins: [authPlugin, {
      use: "amqp",
      options: { port: 0, hostname: "127.0.0.1", tls: tlsOption(pki, clientCertificates) },
    }],
  });
}

// deno-lint-ignore no-explicit-any
type Conn = any;

/** Sends one message to `address`; resolves with the outcome the broker gave it. */
function send(conn: Conn, address: string): Promise<string> {
  const outcome = deferred<string>();
  const sender = conn.open_sender(address);
  sender.once("sendable", () => sender.send({ body: "x" }));
  sender.once("accepted", () => outcome.resolve("accepted"));
  sender.once(
    "rejected",
    (c: Conn) => outcome.resolve(c.delivery.remote_state?.error?.condition ?? "rejected"),
  );
  sender.once("sender_error", (c: Conn) => outcome.resolve(c.sender.error?.condition ?? "error"));
  return within(outcome.promise, 5000, `outcome of a send to ${address}`);
}

/** How rhea reports the SASL failure of a TLS connection made with `opts`. */
function saslRefusal(port: number, opts: Record<string, unknown>): Promise<string> {
  const conn = rhea.create_container({ id: "bad" }).connect({
    port,
    host: "127.0.0.1",
    reconnect: false,
    transport: "tls",
    ...opts,
  });
  conn.on("disconnected", () => {});
  return within(
    new Promise<string>((r) =>
      conn.once("connection_error", (c: Conn) => r(`${c.error.condition} ${c.error.description}`))
    ),
    5000,
    "refused connection",
  );
}

Deno.test("amqp tls required: alice's certificate is the user alice (SASL EXTERNAL and no SASL mechanism alike); bob's names no user", async () => {
  const tb = await broker("required");
  try {
    const port = tb.ports["amqp:tls"];
    assert.equal(tb.broker.listeners().find((l) => l.name === "amqp:tls")?.transport, "tls");
    for (const sasl of [{ enable_sasl_external: true }, {}]) {
      const conn = await amqpConnect(port, { transport: "tls", ...clientTls(pki, "alice"), ...sasl });
      try {
        // The session opens just after the AMQP open (the gate ran at SASL time with EXTERNAL, at the open
        // without SASL).
        const info = await waitFor(
          () => tb.broker.connections().find((x) => x.listener === "amqp:tls"),
          "session",
        );
        assert.equal(info.user, "alice");
        assert.equal(await send(conn, "alice.q"), "accepted");
        assert.notEqual(await send(conn, "carol.q"), "accepted");
      } finally {
        await amqpClose(conn);
      }
    }
    // bob's certificate verifies but names no user: SASL EXTERNAL fails with the outcome auth (code 1).
    assert.equal(
      await saslRefusal(port, { ...clientTls(pki, "bob"), enable_sasl_external: true }),
      "amqp:unauthorized-access Failed to authenticate: 1",
    );
  } finally {
    await tb.stop();
  }
});

Deno.test("amqp tls required: no certificate, another CA's or an expired one never opens", async () => {
  const tb = await broker("required");
  try {
    const port = tb.ports["amqp:tls"];
    for (const name of [undefined, "mallory", "expired"]) {
      await assert.rejects(amqpConnect(port, { transport: "tls", ...clientTls(pki, name) }));
    }
    assert.equal(tb.broker.connections().length, 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("amqp tls optional: SASL PLAIN without a certificate; a wrong password is the SASL outcome auth", async () => {
  const tb = await broker("optional");
  try {
    const port = tb.ports["amqp:tls"];
    const conn = await amqpConnect(port, {
      transport: "tls",
      ...clientTls(pki),
      username: "carol",
      password: "carol-pw",
    });
    assert.equal((await waitFor(() => tb.broker.connections()[0], "session")).user, "carol");
    assert.equal(await send(conn, "carol.q"), "accepted");
    await amqpClose(conn);
    // The gate answers at SASL time: a wrong password is the sasl-outcome auth (code 1).
    assert.equal(
      await saslRefusal(port, { ...clientTls(pki), username: "carol", password: "nope" }),
      "amqp:unauthorized-access Failed to authenticate: 1",
    );
    // The plain listener is still there beside the TLS one.
    const plain = await amqpConnect(tb.ports["amqp:tcp"], { username: "carol", password: "carol-pw" });
    await amqpClose(plain);
  } finally {
    await tb.stop();
  }
});
