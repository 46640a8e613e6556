/**
 * sqlite-store failing to commit (the database refuses every write to its message tables, as a full or
 * failing disk would): what publishers, consumers and a restart see, through the core API and MQTT.js.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { type SqliteFault, sqliteFault } from "../../helpers/sqlite_fault.ts";
import { Collector, within } from "../../helpers/wait.ts";
import { connect, end, MQTT_PLUGIN } from "../mqtt/client.ts";

const persistent = true;
const bodies = (tb: TestBroker, queue: string) =>
  tb.broker.browse(queue).map((m) => new TextDecoder().decode(m.body));

/**
 * Runs `fn` on a broker with sqlite-store and `plugins`, then stops it and removes its data. `restart` stops
 * the broker keeping its data and starts another on it.
 */
async function withFaultyBroker(
  plugins: { use: string }[],
  fn: (tb: TestBroker, fault: SqliteFault, restart: () => Promise<TestBroker>) => Promise<void>,
): Promise<void> {
  const all = [{ use: "sqlite-store" }, ...plugins];
  let tb = await startBroker({ plugins: all });
  const fault = sqliteFault(join(tb.dataDir, "broker.db"));
  try {
    await fn(tb, fault, async () => {
      await tb.stop({ keepData: true });
      tb = await startBroker({ plugins: all, dataDir: tb.dataDir });
      return tb;
    });
  } finally {
    fault.close();
    await tb.stop();
  }
}

Deno.test("sqlite-store: a publish whose commit fails is refused and gone; once the disk heals, publishes are stored", () =>
  withFaultyBroker([], async (tb, fault, restart) => {
    await tb.broker.createQueue("jobs");
    fault.fail();
    await assert.rejects(
      tb.broker.publish({ kind: "queue", destination: "jobs", body: "lost", persistent }),
      {
        code: "store_failed",
        message: /disk I\/O error \(injected\)/,
      },
    );
    assert.deepEqual(bodies(tb, "jobs"), []);
    fault.heal();
    await tb.broker.publish({ kind: "queue", destination: "jobs", body: "kept", persistent });
    assert.deepEqual(bodies(await restart(), "jobs"), ["kept"]);
  }));

Deno.test("sqlite-store: acks whose commit fails are kept and stored once it can, so acked messages do not come back", () =>
  withFaultyBroker([], async (tb, fault, restart) => {
    for (const body of ["j1", "j2"]) {
      await tb.broker.publish({ kind: "queue", destination: "jobs", body, persistent });
    }
    fault.fail();
    const acked = new Collector<string>();
    const sub = await tb.broker.subscribe({ kind: "queue", destination: "jobs" }, (d, s) => {
      s.ack([d.tag]);
      acked.push(new TextDecoder().decode(d.message.body));
    });
    await acked.atLeast(2);
    // An empty append joins the transaction the acks are in.
    await assert.rejects(tb.broker.store.append([]), { code: "store_failed" });
    const failures = tb.broker.stats.storeFailures;
    await sub.cancel();
    fault.heal();
    // Stopping takes the acks still waiting for their retry along.
    assert.deepEqual(bodies(await restart(), "jobs"), []);
    assert.equal(failures, 1);
  }));

Deno.test("sqlite-store + MQTT 5: a QoS 1 publish whose commit fails gets an error PUBACK and never reaches the subscriber", () =>
  withFaultyBroker([MQTT_PLUGIN], async (tb, fault) => {
    const session = {
      clientId: "reader",
      clean: false,
      protocolVersion: 5 as const,
      properties: { sessionExpiryInterval: 300 },
    };
    // The subscriber's persistent session keeps its messages while it is away.
    const sub = await connect(tb, session);
    await sub.subscribeAsync("orders/#", { qos: 1 });
    await end(sub);
    const pub = await connect(tb, { protocolVersion: 5 });
    fault.fail();
    await assert.rejects(
      pub.publishAsync("orders/1", "lost", { qos: 1 }),
      /Publish error: Unspecified error/,
    );
    fault.heal();
    await pub.publishAsync("orders/2", "kept", { qos: 1 });
    const got = new Collector<string>();
    const back = await connect(tb, session, false, (c) => c.on("message", (t, p) => got.push(`${t} ${p}`)));
    assert.deepEqual(await got.atLeast(1), ["orders/2 kept"]);
    await end(back);
    await end(pub);
  }));

Deno.test("sqlite-store + MQTT 3.1.1: a QoS 1 publish whose commit fails ends the connection unacknowledged; resent after the reconnect, it is stored", () =>
  withFaultyBroker([MQTT_PLUGIN], async (tb, fault) => {
    const session = { clientId: "reader", clean: false, protocolVersion: 4 as const };
    const sub = await connect(tb, session);
    await sub.subscribeAsync("orders/#", { qos: 1 });
    await end(sub);
    // It reconnects by itself and sends the unacknowledged PUBLISH again.
    const pub = await connect(tb, {
      protocolVersion: 4,
      clientId: "writer",
      clean: false,
      reconnectPeriod: 20,
    });
    const closed = new Promise<void>((r) => pub.once("close", () => r()));
    fault.fail();
    const acked = pub.publishAsync("orders/1", "retried", { qos: 1 });
    await within(closed, 5000, "the broker to end the connection"); // no negative PUBACK in 3.1.1 [MQTT-3.3.5-2]
    fault.heal();
    await within(acked, 5000, "the PUBACK after the reconnect");
    const got = new Collector<string>();
    const back = await connect(tb, session, false, (c) => c.on("message", (t, p) => got.push(`${t} ${p}`)));
    assert.deepEqual(await got.atLeast(1), ["orders/1 retried"]);
    await end(back);
    await end(pub);
  }));

Deno.test("sqlite-store + HTTP: a publish whose commit fails is 503 store_failed", () =>
  withFaultyBroker(
    [{ use: "http", options: { port: 0, hostname: "127.0.0.1" } } as { use: string }],
    async (tb, fault) => {
      fault.fail();
      const res = await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/queues/jobs/messages`, {
        method: "POST",
        headers: { "x-persistent": "true" },
        body: "lost",
      });
      assert.equal(res.status, 503);
      assert.equal((await res.json()).type, "https://ferrymq.dev/problems/store_failed");
      assert.deepEqual(bodies(tb, "jobs"), []);
    },
  ));
