import assert from "node:assert/strict";
import tls from "node:tls";
import { Client } from "@stomp/stompjs";
import { TCPWrapper } from "@stomp/tcp-wrapper";
import { startBroker } from "../../helpers/broker.ts";
import { deferred, within } from "../../helpers/wait.ts";
import type { Pki } from "../../fixtures/tls/pki.ts";
import { authPlugin, clientTls, testPki, tlsOption } from "./setup.ts";

const pki = await testPki();

/** @stomp/tcp-wrapper over a TLS socket. */
class TlsWrapper extends TCPWrapper {
  static options: tls.ConnectionOptions = {};
  protected override getSocket(port: number, host: string) {
    return tls.connect({ port, host, ...TlsWrapper.options });
  }
}

/** Connects with stompjs; resolves "connected" or the reason the attempt ended. */
async function stompConnect(factory: () => unknown, headers: Record<string, string> = {}) {
  const outcome = deferred<string>();
  const client = new Client({
    // deno-lint-ignore no-explicit-any
    webSocketFactory: factory as any,
    connectHeaders: headers,
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    onConnect: () => outcome.resolve("connected"),
    onStompError: (f) => outcome.resolve(`ERROR ${f.headers.message}`),
    onWebSocketClose: () => outcome.resolve("closed"),
  });
  client.activate();
  const result = await within(outcome.promise, 5000, "STOMP outcome");
  return { client, result };
}

/** Sends to `destination` with a receipt, or gets the ERROR frame: what the ACL made of the user. */
function sendWithReceipt(client: Client, destination: string): Promise<string> {
  const done = deferred<string>();
  client.onStompError = (f) => done.resolve(`ERROR ${f.headers.message}`);
  client.watchForReceipt("r-" + destination, () => done.resolve("receipt"));
  client.publish({ destination, body: "x", headers: { receipt: "r-" + destination } });
  return within(done.promise, 5000, "RECEIPT or ERROR");
}

function stompBroker(p: Pki) {
  return startBroker({
    plugins: [authPlugin, {
      use: "stomp",
      options: {
        port: 0,
        wsPort: -1,
        hostname: "127.0.0.1",
        heartBeatMs: 0,
        tls: tlsOption(p, "optional", { wsPort: 0 }),
      },
    }],
  });
}

Deno.test("stomp tls: alice's certificate is the user alice over TCP and wss; bad certificates and passwords refused", async () => {
  const tb = await stompBroker(pki);
  const port = tb.ports["stomp:tls"];
  const overTls = (name?: string) => () => {
    TlsWrapper.options = clientTls(pki, name);
    return new TlsWrapper("127.0.0.1", port);
  };
  const opened: Client[] = [];
  try {
    const alice = await stompConnect(overTls("alice"));
    opened.push(alice.client);
    assert.equal(alice.result, "connected");
    assert.equal(tb.broker.connections().find((c) => c.listener === "stomp:tls")?.user, "alice");
    assert.equal(await sendWithReceipt(alice.client, "/queue/alice.q"), "receipt");

    const http = Deno.createHttpClient({
      caCerts: [pki.pem("ca")],
      cert: pki.pem("alice"),
      key: pki.keyPem("alice"),
    });
    const wss = await stompConnect(() =>
      new WebSocket(
        `wss://localhost:${tb.ports["stomp:wss"]}/stomp`,
        // Deno takes an options object with an HTTP client (for the client certificate); the typings
        // only know the protocols array.
        { protocols: ["v12.stomp"], client: http } as unknown as string[],
      )
    );
    opened.push(wss.client);
    assert.equal(wss.result, "connected");
    assert.equal(tb.broker.connections().find((c) => c.listener === "stomp:wss")?.user, "alice");
    await wss.client.deactivate();
    http.close();

    const carol = await stompConnect(overTls(), { login: "carol", passcode: "carol-pw" });
    opened.push(carol.client);
    assert.equal(carol.result, "connected");
    assert.match(await sendWithReceipt(carol.client, "/queue/alice.q"), /^ERROR/);

    const wrong = await stompConnect(overTls(), { login: "carol", passcode: "nope" });
    opened.push(wrong.client);
    assert.equal(wrong.result, "ERROR Bad login or passcode");
    for (const name of ["mallory", "expired"]) {
      const bad = await stompConnect(overTls(name));
      opened.push(bad.client);
      assert.equal(bad.result, "closed", name);
    }
  } finally {
    for (const c of opened) await c.deactivate();
    await tb.stop();
  }
});

function httpBroker(clientCertificates: "optional" | "required") {
  return startBroker({
    plugins: [authPlugin, {
      use: "http",
      options: { port: 0, hostname: "127.0.0.1", tls: tlsOption(pki, clientCertificates) },
    }],
  });
}

Deno.test("http tls: HTTPS with alice's certificate publishes as alice; no or a bad certificate is refused", async () => {
  const tb = await httpBroker("required");
  const base = `https://localhost:${tb.ports["http:tls"]}/api/v1/queues`;
  const clients: Deno.HttpClient[] = [];
  const client = (name?: string) => {
    const c = Deno.createHttpClient({
      caCerts: [pki.pem("ca")],
      ...(name ? { cert: pki.pem(name), key: pki.keyPem(name) } : {}),
    });
    clients.push(c);
    return c;
  };
  const post = (name: string | undefined, queue: string) =>
    fetch(`${base}/${queue}/messages`, { method: "POST", body: "hi", client: client(name) });
  try {
    assert.equal(tb.broker.listeners().find((l) => l.name === "http:tls")?.transport, "https");
    const ok = await post("alice", "alice.in");
    assert.equal(ok.status, 201, await ok.text());
    const denied = await post("alice", "carol.in");
    assert.equal(denied.status, 403);
    await denied.body?.cancel();
    for (const name of [undefined, "mallory", "expired"]) {
      await assert.rejects(post(name, "alice.in"), Error, name ?? "no certificate");
    }
    // Not trusting the server's CA fails on the client's side.
    const other = Deno.createHttpClient({ caCerts: [pki.pem("other-ca")] });
    clients.push(other);
    await assert.rejects(fetch(`${base}/alice.in/messages`, { method: "POST", body: "x", client: other }));
  } finally {
    for (const c of clients) c.close();
    await tb.stop();
  }
});

Deno.test("http tls optional: Basic credentials without a certificate; the plain listener keeps working", async () => {
  const tb = await httpBroker("optional");
  const c = Deno.createHttpClient({ caCerts: [pki.pem("ca")] });
  try {
    const basic = (pw: string) => ({ authorization: `Basic ${btoa(`carol:${pw}`)}` });
    const url = `https://localhost:${tb.ports["http:tls"]}/api/v1/queues/carol.in/messages`;
    const ok = await fetch(url, { method: "POST", body: "hi", headers: basic("carol-pw"), client: c });
    assert.equal(ok.status, 201, await ok.text());
    const bad = await fetch(url, { method: "POST", body: "hi", headers: basic("nope"), client: c });
    assert.equal(bad.status, 401);
    await bad.body?.cancel();
    const plain = await fetch(`http://127.0.0.1:${tb.ports["http"]}/api/v1/queues/carol.in/messages`, {
      method: "POST",
      body: "hi",
      headers: basic("carol-pw"),
    });
    assert.equal(plain.status, 201);
    await plain.body?.cancel();
  } finally {
    c.close();
    await tb.stop();
  }
});
