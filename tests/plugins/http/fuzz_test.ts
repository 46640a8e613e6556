/**
 * Fuzz of the HTTP API: random and mutated requests of every route (fetch, and raw sockets for what fetch
 * will not send) while a well-behaved client publishes to a queue and a pull consumer fetches and acks;
 * and malformed frames on /api/v1/ws while a WebSocket subscriber keeps receiving.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { withSeed } from "../../helpers/fuzz.ts";
import { exchange } from "../../helpers/raw.ts";
import { waitFor, within } from "../../helpers/wait.ts";
import { base, type Frame, http, json, openSocket } from "./helpers.ts";

const opts = {
  plugins: [{
    ...http,
    options: { ...http.options, maxBodySize: 65_536, bodyTimeoutMs: 1000, maxWaitMs: 100, maxBatch: 50 },
  }],
};

/** 5xx the API documents: 503 with one of these codes. */
const DOCUMENTED_503 = ["server_busy", "closed", "store_failed"].map((c) =>
  `https://ferrymq.dev/problems/${c}`
);

type Pick = <T>(xs: readonly T[]) => T;

interface Req {
  method: string;
  /** After /api/v1. */
  path: string;
  query: [string, string][];
  headers: [string, string][];
  body?: string | Uint8Array<ArrayBuffer>;
}

const ENVELOPE = {
  body: "aGk=",
  bodyEncoding: "base64",
  contentType: "text/plain",
  properties: { a: "x", n: 1, b: true, z: null },
  priority: 4,
  ttl: 60000,
  delay: 10,
  deliverAt: "2030-01-02T03:04:05Z",
  persistent: false,
  groupId: "g",
  correlationId: "c",
  replyTo: "queue://fz.reply",
};

/** Valid requests of every route; `cid` is a pull consumer that exists. */
function validRequests(cid: string): Req[] {
  const h = (...kv: string[]): [string, string][] => kv.flatMap((_, i) => i % 2 ? [] : [[kv[i], kv[i + 1]]]);
  return [
    {
      method: "POST",
      path: "/queues/fz.q/messages",
      query: [],
      headers: h(
        "content-type",
        "text/plain",
        "x-priority",
        "5",
        "x-ttl",
        "60000",
        "x-delay",
        "0",
        "x-property-color",
        "red",
        "x-correlation-id",
        "c1",
        "x-reply-to",
        "topic://fz.r",
      ),
      body: "hello",
    },
    {
      method: "POST",
      path: "/topics/fz.t/messages",
      query: [["priority", "3"], ["property.k", "v"], ["deliverAt", "2030-01-02T03:04:05Z"], ["group", "g"]],
      headers: h("x-persistent", "false", "x-group-id", "g"),
      body: "to a topic",
    },
    {
      method: "POST",
      path: "/queues/fz.q/messages",
      query: [],
      headers: h("content-type", "application/vnd.ferrymq.message+json"),
      body: JSON.stringify(ENVELOPE),
    },
    {
      method: "POST",
      path: "/topics/fz.t/messages",
      query: [["envelope", "true"], ["async", "true"]],
      headers: [],
      body: JSON.stringify({ body: "x", priority: 1 }),
    },
    {
      method: "POST",
      path: "/queues/fz.q/messages:batch",
      query: [],
      headers: h("content-type", "application/json"),
      body: JSON.stringify([ENVELOPE, { body: "b" }]),
    },
    {
      method: "POST",
      path: "/topics/fz.t/messages/batch",
      query: [],
      headers: h("content-type", "application/x-ndjson"),
      body: `${JSON.stringify({ body: "1" })}\n${JSON.stringify(ENVELOPE)}\n`,
    },
    {
      method: "POST",
      path: "/queues/fz.q/consumers",
      query: [],
      headers: h("content-type", "application/json"),
      body: JSON.stringify({ selector: "color = 'red'", prefetch: 5, ackTimeoutMs: 500 }),
    },
    {
      method: "GET",
      path: `/queues/fz.q/consumers/${cid}/messages`,
      query: [["max", "5"], ["wait", "10"]],
      headers: [],
    },
    {
      method: "POST",
      path: `/queues/fz.q/consumers/${cid}/ack`,
      query: [],
      headers: [],
      body: JSON.stringify({ ids: ["m1", "m2"] }),
    },
    {
      method: "POST",
      path: `/queues/fz.q/consumers/${cid}/nack`,
      query: [],
      headers: [],
      body: JSON.stringify({ ids: ["m1"], requeue: false }),
    },
    { method: "DELETE", path: `/queues/fz.q/consumers/${crypto.randomUUID()}`, query: [], headers: [] },
    { method: "GET", path: "/queues/fz.q/events", query: [["ack", "client"]], headers: [] },
    {
      method: "GET",
      path: "/topics/fz.t/events",
      query: [["durable", "d1"], ["selector", "n > 0"]],
      headers: h("last-event-id", "x"),
    },
    {
      method: "POST",
      path: `/queues/fz.q/events/${crypto.randomUUID()}/ack`,
      query: [],
      headers: [],
      body: JSON.stringify({ ids: ["a"], nack: true }),
    },
    { method: "GET", path: `/receipts/${crypto.randomUUID()}`, query: [], headers: [] },
  ];
}

const NAMES = [
  "..",
  "%2e%2e",
  "a%2Fb",
  "%E0%A4%A",
  "%00",
  "%ZZ",
  "a%20b",
  "%C3%BC",
  "$sys.x",
  "$",
  "$http.sse.x",
  "a..b",
  ".a",
  "a.",
  "*",
  "#",
  "+",
  ">",
  "a.*.b",
  "x".repeat(300),
  "y".repeat(5000),
  "'",
  "{name}",
  ":batch",
];
const VALUES = [
  "",
  "-1",
  "1e3",
  "0x10",
  "NaN",
  "Infinity",
  "99999999999999999999999",
  "9007199254740993",
  "2147483648",
  "4294967296",
  "1.5",
  " 5",
  "true",
  "null",
  "\u00ff",
  "x".repeat(2000),
  "0",
  "9",
  "10",
  "2030-13-45T99:99:99Z",
  "1970-01-01",
  "0000-01-01",
  "queue://",
  "topic://a/b",
  "queue://$sys",
  "client",
  "false",
  "http://127.0.0.1:1/cb",
  "ftp://x",
  "a = ",
  "n > 'x' AND (",
  "color IN ()",
  "%",
];
const QUERY_KEYS = [
  "priority",
  "ttl",
  "delay",
  "deliverAt",
  "persistent",
  "group",
  "correlationId",
  "replyTo",
  "property.p",
  "property.",
  "async",
  "callback",
  "envelope",
  "max",
  "wait",
  "selector",
  "durable",
  "ack",
];
const HEADER_KEYS = [
  "x-priority",
  "x-ttl",
  "x-delay",
  "x-deliver-at",
  "x-persistent",
  "x-group-id",
  "x-correlation-id",
  "x-reply-to",
  "x-property-p",
  "x-property-",
  "content-type",
  "authorization",
  "last-event-id",
];
const CONTENT_TYPES = [
  "application/json",
  "application/vnd.ferrymq.message+json",
  "application/x-ndjson",
  "text/plain; charset=utf-8",
  "application/octet-stream",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
];
const AUTHS = [
  "Basic ???",
  "Basic " + btoa("nobody:x"),
  "Bearer ",
  "Bearer x",
  "Digest x",
  "Basic " + btoa("a"),
];

/** JSON values of the wrong kind, huge or deep. */
function weirdJson(rnd: (n: number) => number, pick: Pick): unknown {
  switch (rnd(12)) {
    case 0:
      return JSON.parse("[".repeat(5000) + "]".repeat(5000));
    case 1:
      return JSON.parse('{"a":'.repeat(2000) + "1" + "}".repeat(2000));
    case 2:
      return 1e308;
    case 3:
      return -1;
    case 4:
      return 2 ** 53 + 2;
    case 5:
      return "x".repeat(rnd(20_000));
    case 6:
      return null;
    case 7:
      return [1, "a", null];
    case 8:
      return { toString: 1, __proto__: { a: 1 }, constructor: "x" };
    case 9:
      return pick([true, false, 0, 0.5, "", "1"]);
    case 10:
      return pick(VALUES);
    default:
      return {};
  }
}

/** A JSON body with one value (top level, field or item) replaced. */
function mutateJson(rnd: (n: number) => number, pick: Pick, text: string): string {
  let v: unknown;
  try {
    v = text.includes("\n") && !text.startsWith("[")
      ? text.split("\n").filter((l) => l).map((l) => JSON.parse(l))
      : JSON.parse(text);
  } catch {
    return text;
  }
  const fields = [
    ...Object.keys(ENVELOPE),
    "ids",
    "requeue",
    "nack",
    "selector",
    "prefetch",
    "ackTimeoutMs",
    "x",
  ];
  const at = (o: unknown): unknown => {
    if (Array.isArray(o) && o.length && rnd(2)) {
      o[rnd(o.length)] = rnd(3) ? at(o[rnd(o.length)]) : weirdJson(rnd, pick);
      return o;
    }
    if (o && typeof o === "object" && rnd(4)) {
      (o as Record<string, unknown>)[pick(fields)] = weirdJson(rnd, pick);
      return o;
    }
    return weirdJson(rnd, pick);
  };
  v = at(v);
  const out = JSON.stringify(v);
  // Huge numbers JSON cannot say as doubles, a "__proto__" key, a truncation.
  switch (rnd(6)) {
    case 0:
      return out.replace(/\d+/, "1" + "0".repeat(400));
    case 1:
      return out.slice(0, rnd(out.length + 1));
    case 2:
      return out.replace("{", '{"__proto__":{"priority":99},');
    default:
      return out;
  }
}

/** Bytes with 1..4 set at random (bad UTF-8 among them). */
function mutateBytes(rnd: (n: number) => number, body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const b = typeof body === "string" ? new TextEncoder().encode(body) : body.slice();
  if (b.length === 0) return new Uint8Array([0xff, 0xfe]);
  for (let k = 0, n = 1 + rnd(4); k < n; k++) b[rnd(b.length)] = pick256(rnd);
  return b;
}
const pick256 = (rnd: (n: number) => number) => [0xff, 0xc0, 0x80, 0xed, 0x00, rnd(256)][rnd(6)];

/** A random mutation of a valid request (or of an already mutated one, up to three times). */
function mutate(rnd: (n: number) => number, r: Req): Req {
  const pick: Pick = (xs) => xs[rnd(xs.length)];
  const m: Req = { ...r, query: [...r.query], headers: [...r.headers] };
  for (let k = 0, n = 1 + rnd(3); k < n; k++) {
    switch (rnd(8)) {
      case 0:
        m.method = pick(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);
        break;
      case 1: {
        const parts = m.path.split("/");
        const i = 1 + rnd(parts.length - 1);
        parts[i] = rnd(4) ? (i === 2 ? pick(NAMES) : pick([...NAMES, "", "x", crypto.randomUUID()])) : pick([
          "queues",
          "topics",
          "QUEUES",
          "consumers",
          "messages",
          "events",
          "receipts",
          "messages:batch",
          "batch",
        ]);
        if (rnd(8) === 0) parts.splice(i, 0, pick(["..", ".", "%2e%2e", ""]));
        m.path = parts.join("/");
        break;
      }
      case 2:
        m.query.push([pick(QUERY_KEYS), pick(VALUES)]);
        break;
      case 3: {
        const key = pick(HEADER_KEYS);
        const v = key === "content-type"
          ? pick(CONTENT_TYPES)
          : key === "authorization"
          ? pick(AUTHS)
          : pick(VALUES);
        m.headers = [...m.headers.filter(([k]) => k !== key), [key, v]];
        break;
      }
      case 4:
      case 5:
        if (typeof m.body === "string") m.body = mutateJson(rnd, pick, m.body);
        else m.body = JSON.stringify(weirdJson(rnd, pick));
        break;
      case 6:
        m.body = mutateBytes(rnd, m.body ?? "");
        break;
      default:
        if (m.query.length) m.query.splice(rnd(m.query.length), 1);
        else m.headers = m.headers.filter(() => rnd(2));
    }
  }
  return m;
}

function urlOf(tb: TestBroker, r: Req): string {
  const q = r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  return `${base(tb)}${r.path}${q ? "?" + q : ""}`;
}

/** Checks one answer: no 500, 503 only with a documented code, every 4xx a problem with a type. */
async function checkResponse(res: Response, what: string): Promise<void> {
  const type = res.headers.get("content-type") ?? "";
  if (res.status >= 400) {
    const text = await res.text();
    assert.ok(res.status < 500 || res.status === 503, `${what}: ${res.status} ${text}`);
    assert.match(type, /^application\/problem\+json/, `${what}: ${res.status} ${type} ${text}`);
    if (text === "" && what.startsWith("HEAD ")) return; // no body for HEAD, the headers are checked
    const p = JSON.parse(text);
    assert.equal(typeof p.type, "string", `${what}: ${text}`);
    if (res.status === 503) assert.ok(DOCUMENTED_503.includes(p.type), `${what}: ${text}`);
  } else {
    await res.body?.cancel(); // an event stream never ends
  }
}

async function send(tb: TestBroker, r: Req): Promise<void> {
  const what = `${r.method} ${r.path} ${JSON.stringify(r.query)} ${JSON.stringify(r.headers)} ${
    typeof r.body === "string" ? r.body.slice(0, 200) : r.body
  }`.slice(0, 600);
  let res: Response;
  try {
    res = await fetch(urlOf(tb, r), {
      method: r.method,
      headers: r.headers,
      body: r.method === "GET" || r.method === "HEAD" ? undefined : r.body,
      signal: AbortSignal.timeout(5000),
    });
  } catch (e) {
    // fetch refuses some header values; a timeout or a reset is a defect.
    if (e instanceof TypeError && !/connection|reset|closed|error sending/i.test(e.message)) return;
    throw new Error(`${what}: ${e}`);
  }
  await checkResponse(res, what);
}

/** What fetch will not send: bad header bytes, raw spaces and non-ASCII in paths, odd methods, HTTP/1.0. */
function rawRequest(rnd: (n: number) => number, port: number): Uint8Array {
  const pick: Pick = (xs) => xs[rnd(xs.length)];
  const enc = new TextEncoder();
  const path = pick([
    "/api/v1/queues/fz.q/messages",
    "/api/v1/topics/fz.t/messages",
    "/api/v1/queues/a b/messages",
    "/api/v1/queues/\u00fc/messages",
    "/api/v1/queues/../../etc/messages",
    "/api/v1/queues/fz.q/consumers",
    "/api/v1/queues/fz.q/events",
    "/api/v1/queues/fz.q/messages:batch",
    "/api/v1/receipts/%",
    "/api/v1//",
    "*",
    "http://127.0.0.1/api/v1/queues/fz.q/messages",
  ]);
  const method = pick(["POST", "GET", "FROB", "G\x01T", "DELETE", "CONNECT", "TRACE"]);
  const header = pick([
    "X-Priority: \xff\xfe",
    "X-Property-\u00e9: x",
    "X-Property-k: \x01\x7f",
    "X-TTL: 1\r\nX-TTL: 2",
    "Content-Type: application/vnd.ferrymq.message+json\xff",
    "Authorization: Basic \xff\xff",
    "Content-Length: 5\r\nContent-Length: 6",
    "Transfer-Encoding: chunked, identity",
    "X-Reply-To: queue://\xe9",
    "Bad Header: x",
  ]);
  const body = pick([
    new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    enc.encode('{"body":"\\ud800"}'),
    enc.encode("x"),
    new Uint8Array(0),
  ]);
  const head = `${method} ${path} HTTP/1.${rnd(2)}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n` +
    `${header}\r\n${
      header.includes("Content-Length") || header.includes("Transfer")
        ? ""
        : `Content-Length: ${body.length}\r\n`
    }\r\n`;
  const bytes = new Uint8Array([...head].map((c) => c.charCodeAt(0) & 0xff));
  // Non-ASCII in the template goes out as Latin-1 bytes: what a client with a bad encoder sends.
  return new Uint8Array([...bytes, ...body]);
}

/** Checks a raw answer: the same rules where the API answered; the HTTP server's own 400 may be bare. */
function checkRaw(out: Uint8Array, what: string): void {
  const text = new TextDecoder().decode(out);
  if (text === "") return; // the server dropped a request it could not parse
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  assert.ok(m, `${what}: ${text.slice(0, 200)}`);
  const status = Number(m[1]);
  assert.ok(status < 500 || status === 503, `${what}: ${text.slice(0, 500)}`);
  if (status >= 400 && /content-length: [1-9]/i.test(text)) {
    assert.match(text, /content-type: application\/problem\+json/i, `${what}: ${text.slice(0, 500)}`);
    assert.match(text, /"type":"https:\/\/ferrymq.dev\/problems\//, `${what}: ${text.slice(0, 500)}`);
  }
}

/** Publishes `n` messages to a queue while a pull consumer fetches and acks; returns what it received. */
async function sideClient(tb: TestBroker, stop: () => boolean): Promise<{ sent: string[]; got: string[] }> {
  const created = await fetch(`${base(tb)}/queues/side.q/consumers`, json({ ackTimeoutMs: 30_000 }));
  assert.equal(created.status, 201);
  const { id } = await created.json();
  const sent: string[] = [], got: string[] = [];
  const fetchSome = async (wait: number) => {
    const res = await fetch(`${base(tb)}/queues/side.q/consumers/${id}/messages?max=50&wait=${wait}`);
    assert.equal(res.status, 200);
    const ms: { id: string; body: string }[] = await res.json();
    got.push(...ms.map((m) => m.body));
    if (ms.length) {
      const ack = await fetch(
        `${base(tb)}/queues/side.q/consumers/${id}/ack`,
        json({ ids: ms.map((m) => m.id) }),
      );
      assert.equal((await ack.json()).settled, ms.length);
    }
    return ms.length;
  };
  for (let i = 0; !stop(); i++) {
    const res = await fetch(`${base(tb)}/queues/side.q/messages`, { method: "POST", body: `s${i}` });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    sent.push(`s${i}`);
    if (i % 5 === 0) await fetchSome(0);
  }
  for (let idle = 0; got.length < sent.length && idle < 20;) idle = (await fetchSome(100)) ? 0 : idle + 1;
  await fetchSome(100); // a duplicate would show here
  return { sent, got };
}

Deno.test("http fuzz: random and mutated requests of every route; a side client loses nothing", async () => {
  const tb = await startBroker(opts);
  try {
    const created = await fetch(`${base(tb)}/queues/fz.q/consumers`, json({ ackTimeoutMs: 60_000 }));
    const { id: cid } = await created.json();
    const valid = validRequests(cid);
    let done = false;
    const side = sideClient(tb, () => done);
    side.catch(() => {}); // awaited below; a fuzz failure must not leave it unhandled
    await withSeed(23, async (rnd) => {
      const N = 3000, PARALLEL = 8;
      let next = 0;
      const worker = async () => {
        while (next < N) {
          const i = next++;
          if (i % 10 === 9) {
            const raw = rawRequest(rnd, tb.ports.http);
            const out = await exchange(tb.ports.http, [raw], { timeoutMs: 5000 }).catch((e) => {
              throw new Error(`raw #${i} ${new TextDecoder().decode(raw).slice(0, 300)}: ${e.message}`);
            });
            checkRaw(out, `raw #${i} ${new TextDecoder().decode(raw).slice(0, 300)}`);
            continue;
          }
          let r = valid[rnd(valid.length)];
          if (rnd(10)) r = mutate(rnd, r);
          await send(tb, r);
        }
      };
      try {
        await Promise.all(Array.from({ length: PARALLEL }, worker));
      } finally {
        done = true;
      }
      const { sent, got } = await side;
      assert.ok(sent.length > 0);
      assert.deepEqual([...got].sort(), [...sent].sort(), "every side message exactly once");
      // Nothing the fuzz opened stays open (event streams, consumers past their lease): the two consumers left.
      await waitFor(() => tb.broker.consumers().length === 2, "only the two long-lived consumers left");
      // Still up.
      const doc = await fetch(`${base(tb)}/openapi.json`);
      assert.equal(doc.status, 200);
      await doc.body?.cancel();
    });
  } finally {
    await tb.stop();
  }
});

/** Malformed WebSocket messages: text and binary, not JSON, bad UTF-8, unknown ops, wrong types, huge. */
function badFrame(rnd: (n: number) => number): { data: string | Uint8Array; json: boolean } {
  const pick: Pick = (xs) => xs[rnd(xs.length)];
  const valid = [
    { op: "subscribe", id: "s", kind: "queue", destination: "fz.w", selector: "a = 1", ack: "client" },
    { op: "unsubscribe", id: 7 },
    { op: "ack", ids: ["x"], requeue: false },
    { op: "publish", id: "p", kind: "topic", destination: "fz.w", message: ENVELOPE },
  ];
  switch (rnd(8)) {
    case 0:
      return { data: pick(["", "{", "nope", "[1,", '{"op":"publish"', "\u0000"]), json: false };
    case 1:
      return { data: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), json: false };
    case 2:
      return {
        data: JSON.stringify({ op: pick(["frob", "", "SUBSCRIBE", "__proto__", "toString"]), id: 1 }),
        json: true,
      };
    case 3:
      return {
        data: JSON.stringify(
          pick<unknown>([null, 1, "s", [], true, { id: "x" }, { op: null }, { op: ["ack"] }]),
        ),
        json: true,
      };
    case 4: {
      // A huge frame: a large body that is not base64, or a huge unknown op.
      const big = "A".repeat(pick([100_000, 1_000_000, 4_000_000]));
      return rnd(2)
        ? {
          data: JSON.stringify({
            op: "publish",
            destination: "fz.w",
            message: { body: big + "!", bodyEncoding: "base64" },
          }),
          json: true,
        }
        : { data: JSON.stringify({ op: big }), json: true };
    }
    default: {
      const v = structuredClone(pick(valid)) as Record<string, unknown>;
      const key = pick([...Object.keys(v), "id", "kind", "destination", "message", "ids"]);
      v[key] = pick<unknown>([null, -1, 1e308, "", [], {}, "x".repeat(10_000), { body: 1 }, [1], true]);
      const text = mutateJson(rnd, pick, JSON.stringify(v));
      let json = true;
      try {
        JSON.parse(text);
      } catch {
        json = false;
      }
      return { data: rnd(2) ? text : new TextEncoder().encode(text), json };
    }
  }
}

Deno.test("http ws fuzz: malformed frames get an error frame or a close; a side subscriber keeps receiving", async () => {
  const tb = await startBroker(opts);
  const side = await openSocket(tb);
  let fuzz = await openSocket(tb);
  try {
    side.send({ op: "subscribe", id: "side", kind: "topic", destination: "side.t" });
    await side.frames.atLeast(1);
    const sideGot = () =>
      side.frames.items.filter((f) => f.op === "message").map((f) => (f.message as Frame).body);
    const sent: string[] = [];
    let closes = 0;
    await withSeed(29, async (rnd) => {
      for (let i = 0; i < 600; i++) {
        const { data, json: isJson } = badFrame(rnd);
        const before = fuzz.frames.items.length;
        fuzz.ws.send(data); // a string as a text frame, bytes as a binary one
        // A probe behind it: its answer shows the socket still reads; an error for a bad frame comes first.
        const probe = `probe-${i}`;
        if (fuzz.ws.readyState === WebSocket.OPEN) fuzz.send({ op: "unsubscribe", id: probe });
        const closed = new Promise<"closed">((r) => fuzz.ws.addEventListener("close", () => r("closed")));
        const answered = (async () => {
          while (!fuzz.frames.items.slice(before).some((f) => f.id === probe)) {
            await fuzz.frames.atLeast(fuzz.frames.items.length + 1, 10_000);
          }
          return "answered" as const;
        })();
        const outcome = await within(Promise.race([answered, closed]), 10_000, `an answer to frame #${i}`);
        if (outcome === "closed") {
          closes++;
          fuzz = await openSocket(tb);
        } else if (!isJson) {
          const errs = fuzz.frames.items.slice(before).filter((f) =>
            f.op === "error" && f.type?.toString().endsWith("/invalid_json")
          );
          assert.equal(errs.length, 1, `frame #${i}: ${String(data).slice(0, 200)}`);
        }
        for (const f of fuzz.frames.items.slice(before)) {
          if (f.op === "error") {
            assert.ok((f.status as number) < 500, `frame #${i}: ${JSON.stringify(f).slice(0, 300)}`);
          }
        }
        if (i % 10 === 0) {
          const m = `w${i}`;
          sent.push(m);
          const res = await fetch(`${base(tb)}/topics/side.t/messages`, { method: "POST", body: m });
          assert.equal(res.status, 201);
          await res.body?.cancel();
        }
      }
      await side.frames.atLeast(sent.length + 1);
      await waitFor(() => sideGot().length >= sent.length, "the side subscriber's messages");
      assert.deepEqual(sideGot(), sent);
      assert.ok(closes < 600, "not every frame closes the socket");
    });
  } finally {
    await fuzz.close();
    await side.close();
    await tb.stop();
  }
});
