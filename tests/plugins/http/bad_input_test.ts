/**
 * Bad input on the HTTP API: client mistakes are answered with a 4xx problem, never a 500, and a body
 * that never arrives whole is answered with 408 after `bodyTimeoutMs`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startBroker } from "../../helpers/broker.ts";
import { exchange } from "../../helpers/raw.ts";
import { within } from "../../helpers/wait.ts";
import { http } from "./helpers.ts";

const opts = { plugins: [{ ...http, options: { ...http.options, maxBodySize: 1024, bodyTimeoutMs: 300 } }] };
const enc = new TextEncoder();

const BAD: [string, string, number][] = [
  [
    "an unknown method",
    "FROB /api/v1/queues/a/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    405,
  ],
  [
    "a method fetch forbids (TRACE), which no Request can be rebuilt with",
    "TRACE /api/v1/queues/a/messages:batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    405,
  ],
  [
    "a body over maxBodySize",
    `POST /api/v1/queues/a/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5000\r\n\r\n${
      "x".repeat(5000)
    }`,
    413,
  ],
  [
    "bad JSON for a consumer",
    "POST /api/v1/queues/a/consumers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{nope",
    400,
  ],
  [
    "a bad envelope",
    "POST /api/v1/queues/a/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
    "Content-Type: application/vnd.ferrymq.message+json\r\nContent-Length: 5\r\n\r\n{nope",
    400,
  ],
];

for (const [what, request, status] of BAD) {
  Deno.test(`http bad input: ${what} gets ${status} with problem details`, async () => {
    const tb = await startBroker(opts);
    try {
      const out = new TextDecoder().decode(await exchange(tb.ports.http, [request]));
      assert.match(out, new RegExp(`^HTTP/1.1 ${status} `));
      assert.match(out, /content-type: application\/problem\+json/i);
    } finally {
      await tb.stop();
    }
  });
}

for (
  const [what, request] of [
    ["a Content-Length longer than the body", "Content-Length: 100\r\n\r\nabc"],
    ["a chunked body without its last chunk", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"],
  ]
) {
  Deno.test(`http bad input: ${what} is answered with 408 after bodyTimeoutMs`, async () => {
    const tb = await startBroker(opts); // bodyTimeoutMs 300
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports.http });
    try {
      await conn.write(enc.encode(`POST /api/v1/queues/slow/messages HTTP/1.1\r\nHost: x\r\n${request}`));
      let text = "";
      const buf = new Uint8Array(4096);
      await within(
        (async () => {
          while (!text.includes("}")) {
            const n = await conn.read(buf);
            if (n === null) break;
            text += new TextDecoder().decode(buf.subarray(0, n));
          }
        })(),
        3000,
        "an answer",
      );
      assert.match(text, /^HTTP\/1.1 408 /);
      assert.match(text, /request_timeout/);
      assert.equal(tb.broker.queue("slow")?.pending ?? 0, 0);
    } finally {
      conn.close();
      await tb.stop();
    }
  });
}

Deno.test("http bad input: a consumer lease over what a timer holds is 400, not a lease that ends at once", async () => {
  const tb = await startBroker(opts);
  const base = `http://127.0.0.1:${tb.ports.http}/api/v1`;
  try {
    const res = await fetch(`${base}/queues/lease/consumers`, {
      method: "POST",
      body: JSON.stringify({ ackTimeoutMs: 2 ** 31 }),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).type, "https://ferrymq.dev/problems/invalid_argument");
    const { id } = await (await fetch(`${base}/queues/lease/consumers`, {
      method: "POST",
      body: JSON.stringify({ ackTimeoutMs: 2 ** 31 - 1 }),
    })).json();
    await new Promise((r) => setTimeout(r, 50));
    const fetched = await fetch(`${base}/queues/lease/consumers/${id}/messages`);
    assert.equal(fetched.status, 200);
    await fetched.body?.cancel();
  } finally {
    await tb.stop();
  }
});

Deno.test("http bad input: HEAD on an event stream subscribes to nothing", async () => {
  const tb = await startBroker(opts);
  const base = `http://127.0.0.1:${tb.ports.http}/api/v1`;
  try {
    await tb.broker.publish({ kind: "queue", destination: "head", body: "kept" });
    const res = await fetch(`${base}/queues/head/events`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    assert.equal(tb.broker.consumers().length, 0);
    assert.equal(tb.broker.queue("head")?.pending, 1);
    // What a GET would refuse, HEAD refuses too.
    const bad = await fetch(`${base}/queues/head/events?selector=${encodeURIComponent("a = ")}`, {
      method: "HEAD",
    });
    assert.equal(bad.status, 400);
  } finally {
    await tb.stop();
  }
});

Deno.test("http bad input: HEAD on an event stream asks the auth gates as a GET would", async () => {
  const tb = await startBroker({
    plugins: [
      {
        use: "auth",
        options: {
          anonymous: "off",
          users: [{ username: "alice", password: "a-pw" }],
          acl: { default: "deny", rules: [{ allow: true, pattern: "open" }] },
        },
      },
      ...opts.plugins,
    ],
  });
  const url = (q: string) => `http://127.0.0.1:${tb.ports.http}/api/v1/queues/${q}/events`;
  const alice = { authorization: `Basic ${btoa("alice:a-pw")}` };
  try {
    assert.equal((await fetch(url("open"), { method: "HEAD" })).status, 401);
    assert.equal((await fetch(url("closed"), { method: "HEAD", headers: alice })).status, 403);
    assert.equal((await fetch(url("open"), { method: "HEAD", headers: alice })).status, 200);
  } finally {
    await tb.stop();
  }
});
