/**
 * The metrics plugin: the broker's figures in the Prometheus text format at GET /metrics on the http
 * plugin's listener. Counters since start (messages and bytes in and out, dead letters by reason, refused
 * logins and requests, sessions opened and closed by protocol), gauges read at scrape time (connections
 * by protocol, listeners, destinations with their depth, consumers and totals, process memory and CPU).
 * A scrape passes the auth gates like any client (subscribe on `$SYS.metrics`) unless `public` is set.
 *
 * @example
 * ```yaml
 * # prometheus.yml
 * scrape_configs:
 *   - job_name: ferrymq
 *     basic_auth: { username: prometheus, password: secret }
 *     static_configs: [{ targets: ["broker:8080"] }]
 * ```
 *
 * @module
 */
import process from "node:process";
import { type BrokerApi, definePlugin, isReject } from "../../mod.ts";
import { methodNotAllowed, problem, rejectProblem } from "../http/problems.ts";
import { CONTENT_TYPE, Exposition } from "./exposition.ts";

interface Options {
  path: string;
  public: boolean;
  destination: string;
  maxDestinations: number;
}

/** Counters the plugin keeps from observe hooks, by label value. */
interface Tallies {
  deadLetters: Map<string, number>;
  authFailures: Map<string, number>;
  accessDenied: Map<string, number>;
  opened: Map<string, number>;
  closed: Map<string, number>;
}

/** What the plugin provides as "metrics": the exposition as a scrape would get it. */
export interface MetricsService {
  scrape(): string;
}

declare module "../../mod.ts" {
  interface Services {
    metrics: MetricsService;
  }
}

const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);

function countBy<T>(items: Iterable<T>, key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of items) bump(m, key(t));
  return m;
}

function labelled(x: Exposition, name: string, label: string, m: Map<string, number>): void {
  for (const [v, n] of m) x.sample(name, n, { [label]: v });
}

/** The exposition of the broker's state now. */
export function expose(broker: BrokerApi, t: Tallies, maxDestinations: number): string {
  const x = new Exposition();
  const s = broker.stats;
  x.family("ferrymq_info", "gauge", "The broker node; always 1").sample("ferrymq_info", 1, {
    node: broker.nodeId,
  });
  x.single("ferrymq_start_time_seconds", "gauge", "When the broker started (Unix time)", s.startedAt / 1000);
  x.single("ferrymq_messages_received_total", "counter", "Messages published to the broker", s.messagesIn);
  x.single("ferrymq_messages_delivered_total", "counter", "Deliveries to consumers", s.messagesOut);
  x.single("ferrymq_received_bytes_total", "counter", "Message body bytes published", s.bytesIn);
  x.single("ferrymq_delivered_bytes_total", "counter", "Message body bytes delivered", s.bytesOut);
  x.single("ferrymq_sessions", "gauge", "Open sessions, internal ones included", s.sessions);
  x.single(
    "ferrymq_store_failures_total",
    "counter",
    "Store writes that failed (publishes refused, acks to retry)",
    s.storeFailures,
  );

  const conns = broker.connections();
  x.family("ferrymq_connections", "gauge", "Client sessions by protocol");
  labelled(x, "ferrymq_connections", "protocol", countBy(conns, (c) => c.protocol));
  x.family("ferrymq_sessions_opened_total", "counter", "Client sessions opened, by protocol");
  labelled(x, "ferrymq_sessions_opened_total", "protocol", t.opened);
  x.family("ferrymq_sessions_closed_total", "counter", "Client sessions closed, by protocol");
  labelled(x, "ferrymq_sessions_closed_total", "protocol", t.closed);

  x.family("ferrymq_listener_connections", "gauge", "Connections per listening socket");
  for (const l of broker.listeners()) {
    x.sample("ferrymq_listener_connections", l.connections(), {
      listener: l.name,
      protocol: l.protocol,
      transport: l.transport,
      port: l.port,
    });
  }

  const dests = broker.destinations();
  x.family("ferrymq_destinations", "gauge", "Destinations by kind");
  labelled(x, "ferrymq_destinations", "kind", countBy(dests, (d) => d.kind));
  const shown = dests.length <= maxDestinations ? dests : dests.slice(0, maxDestinations);
  x.single(
    "ferrymq_destinations_omitted",
    "gauge",
    "Destinations beyond maxDestinations, without series of their own",
    dests.length - shown.length,
  );
  const perDestination = [
    ["ferrymq_destination_messages_pending", "gauge", "Messages waiting in the destination", "pending"],
    ["ferrymq_destination_messages_inflight", "gauge", "Messages delivered and not yet acked", "inflight"],
    ["ferrymq_destination_consumers", "gauge", "Consumers of the destination", "consumers"],
    [
      "ferrymq_destination_messages_enqueued_total",
      "counter",
      "Messages put into the destination",
      "enqueued",
    ],
    [
      "ferrymq_destination_messages_dequeued_total",
      "counter",
      "Messages acked from the destination",
      "dequeued",
    ],
  ] as const;
  let pending = 0;
  for (const d of dests) pending += d.pending;
  x.single("ferrymq_messages_pending", "gauge", "Messages waiting in every destination", pending);
  for (const [name, type, help, field] of perDestination) {
    x.family(name, type, help);
    for (const d of shown) x.sample(name, d[field], { destination: d.name, kind: d.kind });
  }

  x.family("ferrymq_dead_letters_total", "counter", "Messages dead-lettered, by reason");
  labelled(x, "ferrymq_dead_letters_total", "reason", t.deadLetters);
  x.family("ferrymq_auth_failures_total", "counter", "Refused logins, by error code");
  labelled(x, "ferrymq_auth_failures_total", "code", t.authFailures);
  x.family("ferrymq_access_denied_total", "counter", "Requests the authorize gate refused, by action");
  labelled(x, "ferrymq_access_denied_total", "action", t.accessDenied);

  const mem = Deno.memoryUsage();
  const cpu = process.cpuUsage();
  x.single("process_resident_memory_bytes", "gauge", "Resident memory size", mem.rss);
  x.single("process_heap_bytes", "gauge", "JavaScript heap in use", mem.heapUsed);
  x.single("process_cpu_seconds_total", "counter", "User and system CPU time", (cpu.user + cpu.system) / 1e6);
  x.single("process_start_time_seconds", "gauge", "When the process started (Unix time)", s.startedAt / 1000);
  return x.toString();
}

export default definePlugin<Options>({
  name: "metrics",
  setup(ctx) {
    const o = ctx.options;
    const t: Tallies = {
      deadLetters: new Map(),
      authFailures: new Map(),
      accessDenied: new Map(),
      opened: new Map(),
      closed: new Map(),
    };
    ctx.hooks.on("deadLetter", (e) => void bump(t.deadLetters, e.reason));
    ctx.hooks.on("authFailed", (e) => void bump(t.authFailures, e.code));
    ctx.hooks.on("accessDenied", (e) => void bump(t.accessDenied, e.action));
    ctx.hooks.on("connected", (e) => void bump(t.opened, e.client.protocol));
    ctx.hooks.on("disconnected", (e) => void bump(t.closed, e.client.protocol));

    const scrape = () => expose(ctx.broker, t, o.maxDestinations);
    ctx.provide("metrics", { scrape });
    const http = ctx.use("http");
    http.mount(o.path, async (req) => {
      if (new URL(req.url).pathname !== o.path) {
        return problem("not_found", `No route ${new URL(req.url).pathname}`);
      }
      if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(["GET", "HEAD"]);
      if (!o.public) {
        const session = await http.sessionFor(req);
        if (isReject(session)) return rejectProblem(session);
        const allowed = await session.authorize("subscribe", o.destination, "topic");
        if (allowed !== true) return rejectProblem(allowed);
      }
      return new Response(req.method === "HEAD" ? null : scrape(), {
        headers: { "content-type": CONTENT_TYPE },
      });
    });
  },
});
