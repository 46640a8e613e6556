import assert from "node:assert/strict";
import { join } from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import type { MetricsService } from "../../../plugins/metrics/mod.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { sqliteFault } from "../../helpers/sqlite_fault.ts";
import { within } from "../../helpers/wait.ts";
import { mqttAs } from "../acl/clients.ts";

const mqttPlugin = { use: "mqtt", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 } };
const http = { use: "http", options: { port: 0, hostname: "127.0.0.1" } };
const metrics = (options: Record<string, unknown> = {}) => ({ use: "metrics", options });
const auth = {
  use: "auth",
  options: {
    anonymous: "off",
    users: [
      { username: "prom", password: "prom-pw", groups: ["monitoring"] },
      { username: "root", password: "root-pw", groups: ["admin"] },
    ],
    acl: { default: "deny", rules: [{ allow: true, pattern: "metrics", groups: ["monitoring"] }] },
  },
};

interface Family {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

/** GET /metrics, checked as a Prometheus scraper reads it; the families by name. */
async function scrape(tb: TestBroker, headers: HeadersInit = {}): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${tb.ports.http}/metrics`, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const families: Family[] = parsePrometheus(await res.text());
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of the sample of `name` whose labels include `labels`. */
function value(
  fs: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const f = fs.get(name);
  assert.ok(f, `no family ${name}`);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m === undefined ? undefined : Number(m.value);
}

const basic = (u: string, p: string) => ({ authorization: `Basic ${btoa(`${u}:${p}`)}` });

Deno.test("metrics: counters, connections, listeners and destinations as a Prometheus scraper parses them", async () => {
  const tb = await startBroker({ plugins: [http, mqttPlugin, metrics({ public: true })] });
  const clients = [];
  try {
    await tb.broker.createQueue("orders");
    for (let i = 0; i < 3; i++) {
      await tb.broker.publish({ kind: "queue", destination: "orders", body: new Uint8Array(10) });
    }
    const port = tb.ports["mqtt:tcp"];
    const sub = await mqttAs(port, "", "");
    const pub = await mqttAs(port, "", "");
    clients.push(sub, pub);
    await sub.subscribeAsync("t/#", { qos: 1 });
    const got = new Promise((r) => sub.once("message", r));
    await pub.publishAsync("t/1", "hello", { qos: 1 });
    await within(got, 5000, "delivery");

    const fs = await scrape(tb);
    const s = tb.broker.stats;
    assert.equal(value(fs, "ferrymq_messages_received_total"), s.messagesIn);
    assert.equal(value(fs, "ferrymq_messages_delivered_total"), s.messagesOut);
    assert.equal(value(fs, "ferrymq_received_bytes_total"), s.bytesIn);
    assert.ok(s.messagesIn >= 4 && s.bytesIn >= 35);
    assert.equal(value(fs, "ferrymq_connections", { protocol: "mqtt" }), 2);
    assert.equal(value(fs, "ferrymq_sessions_opened_total", { protocol: "mqtt" }), 2);
    assert.equal(value(fs, "ferrymq_listener_connections", { listener: "mqtt:tcp", transport: "tcp" }), 2);
    assert.equal(
      value(fs, "ferrymq_destination_messages_pending", { destination: "orders", kind: "queue" }),
      3,
    );
    assert.equal(value(fs, "ferrymq_destination_messages_enqueued_total", { destination: "orders" }), 3);
    assert.equal(value(fs, "ferrymq_destinations_omitted"), 0);
    assert.equal(value(fs, "ferrymq_info", { node: "test" }), 1);
    assert.ok(value(fs, "process_resident_memory_bytes")! > 0);
    assert.equal(fs.get("ferrymq_messages_received_total")!.type, "COUNTER");
    assert.equal(fs.get("ferrymq_destination_messages_pending")!.type, "GAUGE");

    await sub.endAsync();
    const after = await scrape(tb);
    assert.equal(value(after, "ferrymq_connections", { protocol: "mqtt" }), 1);
    assert.equal(value(after, "ferrymq_sessions_closed_total", { protocol: "mqtt" }), 1);
    // The service gives what the route serves.
    const text = (tb.broker.host.service("metrics") as MetricsService).scrape();
    assert.match(text, /^ferrymq_connections\{protocol="mqtt"\} 1$/m);
  } finally {
    for (const c of clients) await c.endAsync().catch(() => {});
    await tb.stop();
  }
});

Deno.test("metrics: dead letters by reason and refused logins are counted", async () => {
  const tb = await startBroker({ plugins: [auth, http, mqttPlugin, metrics({ destination: "metrics" })] });
  try {
    await tb.broker.createQueue("small", { maxLength: 1 });
    for (let i = 0; i < 3; i++) {
      await tb.broker.publish({ kind: "queue", destination: "small", body: new Uint8Array(1) });
    }
    await assert.rejects(mqttAs(tb.ports["mqtt:tcp"], "prom", "wrong"));
    const fs = await scrape(tb, basic("prom", "prom-pw"));
    assert.equal(value(fs, "ferrymq_dead_letters_total", { reason: "max_length" }), 2);
    assert.equal(value(fs, "ferrymq_auth_failures_total", { code: "bad_credentials" }), 1);
  } finally {
    await tb.stop();
  }
});

Deno.test("metrics: a scrape passes the auth gates unless public; 401 and 403 carry the reason", async () => {
  const tb = await startBroker({ plugins: [auth, http, metrics()] });
  try {
    const url = `http://127.0.0.1:${tb.ports.http}/metrics`;
    const none = await fetch(url);
    assert.equal(none.status, 401);
    assert.equal((await none.json()).type, "https://ferrymq.dev/problems/bad_credentials");
    const wrong = await fetch(url, { headers: basic("root", "nope") });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    // $SYS.metrics is reserved: only the admin group, whatever the ACL says.
    const prom = await fetch(url, { headers: basic("prom", "prom-pw") });
    assert.equal(prom.status, 403);
    assert.equal((await prom.json()).type, "https://ferrymq.dev/problems/not_authorized");
    const fs = await scrape(tb, basic("root", "root-pw"));
    assert.equal(value(fs, "ferrymq_access_denied_total", { action: "subscribe" }), 1);
    const post = await fetch(url, { method: "POST", headers: basic("root", "root-pw") });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
    const other = await fetch(`${url}/x`, { headers: basic("root", "root-pw") });
    assert.equal(other.status, 404);
    await other.body?.cancel();
  } finally {
    await tb.stop();
  }
  // A destination the ACL grants to the monitoring group lets a scraper in without admin rights.
  const open = await startBroker({ plugins: [auth, http, metrics({ destination: "metrics" })] });
  try {
    const fs = await scrape(open, basic("prom", "prom-pw"));
    assert.equal(value(fs, "ferrymq_connections", { protocol: "http" }), 1);
  } finally {
    await open.stop();
  }
});

Deno.test("metrics: past maxDestinations destinations count in the totals only", async () => {
  const tb = await startBroker({ plugins: [http, metrics({ public: true, maxDestinations: 2 })] });
  try {
    for (let i = 0; i < 5; i++) {
      await tb.broker.createQueue(`q${i}`);
      await tb.broker.publish({ kind: "queue", destination: `q${i}`, body: new Uint8Array(1) });
    }
    const fs = await scrape(tb);
    assert.equal(value(fs, "ferrymq_destinations", { kind: "queue" }), 5);
    assert.equal(value(fs, "ferrymq_destinations_omitted"), 3);
    assert.equal(value(fs, "ferrymq_messages_pending"), 5);
    assert.equal(fs.get("ferrymq_destination_messages_pending")!.metrics.length, 2);
  } finally {
    await tb.stop();
  }
});

Deno.test("metrics: store failures are counted", async () => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, http, metrics({ public: true })] });
  const fault = sqliteFault(join(tb.dataDir, "broker.db"));
  try {
    await tb.broker.createQueue("jobs");
    assert.equal(value(await scrape(tb), "ferrymq_store_failures_total"), 0);
    fault.fail();
    await assert.rejects(
      tb.broker.publish({ kind: "queue", destination: "jobs", body: "x", persistent: true }),
    );
    fault.heal();
    assert.equal(value(await scrape(tb), "ferrymq_store_failures_total"), 1);
  } finally {
    fault.close();
    await tb.stop();
  }
});
