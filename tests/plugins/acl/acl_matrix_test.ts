/**
 * One ACL, one table of cases, every protocol with its real client: MQTT.js (v5 SUBACK/PUBACK 0x87,
 * v4 SUBACK 0x80), rhea (amqp:unauthorized-access), @stomp/stompjs (ERROR frame), fetch (403).
 */
import assert from "node:assert/strict";
import type { PluginEntry } from "../../../mod.ts";
import { amqpClose, amqpConnect, type AmqpConnection } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { deferred, waitFor, within } from "../../helpers/wait.ts";
import { mqttAs, pubackOf, stompAs, subackOf } from "./clients.ts";

const PW = "pw";
const auth = {
  use: "auth",
  options: {
    users: [
      { username: "alice", password: PW, groups: ["sensors"] },
      { username: "bob", password: PW, groups: ["ops"] },
      { username: "carol", password: PW },
      { username: "root", password: PW, groups: ["admin"] },
    ],
    acl: {
      default: "deny",
      rules: [
        { allow: false, pattern: "sensors.secret.>", groups: ["sensors"] },
        { allow: true, pattern: "sensors.>", groups: ["sensors"] },
        { allow: true, pattern: "ops.*.alerts", users: ["bob"], actions: ["subscribe"] },
        { allow: true, pattern: "home.%u.>" },
      ],
    },
  },
};

type Case = [
  user: string,
  action: "publish" | "subscribe",
  destination: string,
  allowed: boolean,
  why: string,
];
const CASES: Case[] = [
  ["alice", "publish", "sensors.t1", true, "group rule with >"],
  ["alice", "publish", "sensors.secret.k", false, "an earlier deny wins (first match)"],
  ["alice", "subscribe", "sensors.*", true, "the allow rule covers the wildcard"],
  ["alice", "subscribe", "sensors.>", false, "the wildcard overlaps the earlier deny"],
  ["alice", "subscribe", "ops.eu.alerts", false, "a rule for another user"],
  ["bob", "subscribe", "ops.*.alerts", true, "user rule with *"],
  ["bob", "publish", "ops.eu.alerts", false, "the rule is for subscribe only"],
  ["bob", "publish", "home.bob.lamp", true, "%u is the user"],
  ["bob", "subscribe", "home.alice.>", false, "someone else's %u"],
  ["carol", "publish", "sensors.t1", false, "no group, no rule: default deny"],
  ["carol", "subscribe", "$SYS.>", false, "reserved prefix"],
  ["root", "subscribe", "$SYS.>", true, "admins pass reserved prefixes"],
  ["root", "publish", "DLQ.orders", true, "admins pass reserved prefixes"],
  ["alice", "publish", "DLQ.orders", false, "reserved prefix"],
];
const name = ([user, action, dest, allowed, why]: Case) =>
  `${user} ${action} ${dest}: ${allowed ? "allowed" : "denied"} (${why})`;

const mqttTopic = (d: string) => d.replaceAll(".", "/").replaceAll("*", "+").replaceAll(">", "#");

async function withBroker(plugin: PluginEntry, fn: (tb: TestBroker) => Promise<void>) {
  const tb = await startBroker({ plugins: [auth, plugin] });
  try {
    await fn(tb);
  } finally {
    await tb.stop();
  }
}

Deno.test("ACL matrix over MQTT 5: SUBACK 0x87, PUBACK 0x87", async () => {
  await withBroker(
    { use: "mqtt", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 } },
    async (tb) => {
      for (const c of CASES) {
        const [user, action, dest, allowed] = c;
        const client = await mqttAs(tb.ports["mqtt:tcp"], user, PW, 5);
        try {
          const code = action === "subscribe"
            ? await subackOf(client, mqttTopic(dest))
            : await pubackOf(client, mqttTopic(dest));
          if (allowed) assert.ok(code < 0x80, `${name(c)}: got ${code}`);
          else assert.equal(code, 0x87, name(c));
        } finally {
          await client.endAsync(true);
        }
      }
    },
  );
});

Deno.test("ACL matrix over MQTT 3.1.1: SUBACK 0x80 (3.1.1 PUBACK has no reason code)", async () => {
  await withBroker(
    { use: "mqtt", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 } },
    async (tb) => {
      for (const c of CASES.filter(([, action]) => action === "subscribe")) {
        const [user, , dest, allowed] = c;
        const client = await mqttAs(tb.ports["mqtt:tcp"], user, PW, 4);
        try {
          assert.equal(await subackOf(client, mqttTopic(dest)), allowed ? 1 : 0x80, name(c));
        } finally {
          await client.endAsync(true);
        }
      }
    },
  );
});

Deno.test("ACL matrix over STOMP: RECEIPT when allowed, ERROR frame when denied", async () => {
  await withBroker(
    { use: "stomp", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", heartBeatMs: 0 } },
    async (tb) => {
      for (const c of CASES) {
        const [user, action, dest, allowed] = c;
        const { client, errors } = await stompAs(tb.ports["stomp:tcp"], user, PW);
        try {
          const receipt = deferred<string>();
          client.watchForReceipt("r", () => receipt.resolve("receipt"));
          if (action === "subscribe") client.subscribe(`/topic/${dest}`, () => {}, { receipt: "r" });
          else client.publish({ destination: `/topic/${dest}`, body: "x", headers: { receipt: "r" } });
          const got = await within(
            Promise.race([receipt.promise, errors.atLeast(1).then((e) => `ERROR ${e[0]}`)]),
            5000,
            name(c),
          );
          if (allowed) assert.equal(got, "receipt", name(c));
          else {assert.match(
              got,
              new RegExp(`^ERROR Not allowed to ${action} "${dest.replaceAll("$", "\\$")}"`),
              name(c),
            );}
        } finally {
          await client.deactivate();
        }
      }
    },
  );
});

/**
 * Attaches a receiver (subscribe) or sends one message (publish); the outcome as a string. rhea's server
 * side answers every attach at once, so a refused receiver sees its attach, then a detach carrying the
 * error; an accepted one shows up as a consumer in the broker.
 */
function amqpTry(
  tb: TestBroker,
  conn: AmqpConnection,
  action: "publish" | "subscribe",
  dest: string,
): Promise<string> {
  const address = `topic://${dest}`;
  return within(
    new Promise((resolve) => {
      if (action === "subscribe") {
        let refused: string | undefined;
        const r = conn.open_receiver({ source: address, autoaccept: false });
        // deno-lint-ignore no-explicit-any
        r.once("receiver_error", (e: any) => refused = e.receiver.error?.condition);
        waitFor(
          () => refused ?? tb.broker.consumers().some((c) => c.destination === dest),
          "attach or detach",
        )
          .then((v) => resolve(v === true ? "attached" : String(v)), () => {});
      } else {
        const s = conn.open_sender(address);
        s.once("sendable", () => s.send({ body: "x" }));
        s.once("accepted", () => resolve("accepted"));
        // deno-lint-ignore no-explicit-any
        s.once("rejected", (e: any) => resolve(e.delivery.remote_state?.error?.condition));
      }
    }),
    5000,
    `AMQP ${action} ${dest}`,
  );
}

Deno.test("ACL matrix over AMQP 1.0: amqp:unauthorized-access on attach (receivers) and on transfer (senders)", async () => {
  await withBroker({ use: "amqp", options: { port: 0, hostname: "127.0.0.1" } }, async (tb) => {
    const conns = new Map<string, AmqpConnection>();
    try {
      for (const c of CASES) {
        const [user, action, dest, allowed] = c;
        if (!conns.has(user)) {
          conns.set(user, await amqpConnect(tb.ports["amqp:tcp"], { username: user, password: PW }));
        }
        const got = await amqpTry(tb, conns.get(user), action, dest);
        assert.equal(
          got,
          allowed ? (action === "subscribe" ? "attached" : "accepted") : "amqp:unauthorized-access",
          name(c),
        );
      }
    } finally {
      for (const conn of conns.values()) await amqpClose(conn);
    }
  });
});

Deno.test("ACL matrix over HTTP: 403 for publish (POST) and subscribe (SSE) when denied", async () => {
  await withBroker({ use: "http", options: { port: 0, hostname: "127.0.0.1" } }, async (tb) => {
    for (const c of CASES) {
      const [user, action, dest, allowed] = c;
      const url = `http://127.0.0.1:${tb.ports.http}/api/v1/topics/${encodeURIComponent(dest)}/${
        action === "publish" ? "messages" : "events"
      }`;
      const abort = new AbortController();
      const res = await fetch(url, {
        method: action === "publish" ? "POST" : "GET",
        body: action === "publish" ? "x" : undefined,
        headers: { authorization: `Basic ${btoa(`${user}:${PW}`)}` },
        signal: abort.signal,
      });
      try {
        if (allowed) assert.ok(res.status === 200 || res.status === 201, `${name(c)}: got ${res.status}`);
        else {
          assert.equal(res.status, 403, name(c));
          assert.match((await res.json()).type, /\/not_authorized$/);
        }
      } finally {
        abort.abort();
        await res.body?.cancel().catch(() => {});
      }
    }
  });
});
