import assert from "node:assert/strict";
import mqtt from "mqtt";
import { covers } from "../../../plugins/auth/acl.ts";
import type { AuthService } from "../../../plugins/auth/mod.ts";
import { hashPassword, verifyPassword } from "../../../plugins/auth/users.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, within } from "../../helpers/wait.ts";

const auth = {
  use: "auth",
  options: {
    users: [
      { username: "alice", password: "alice-pw", groups: ["sensors"] },
      { username: "root", password: "root-pw", groups: ["admin"] },
    ],
    acl: {
      rules: [
        { allow: false, pattern: "sensors.secret", groups: ["sensors"] },
        { allow: true, pattern: "sensors.>", groups: ["sensors"], actions: ["publish", "subscribe"] },
        { allow: true, pattern: "home.%u.>" },
      ],
    },
    maxFailures: 3,
  },
};
const mqttPlugin = { use: "mqtt", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 } };
const sink = { deliver() {} };
const client = (username?: string, password?: string, remote = "10.0.0.1:5000") => ({
  clientId: crypto.randomUUID(),
  protocol: "test",
  remote,
  username,
  password: password === undefined ? undefined : new TextEncoder().encode(password),
});

Deno.test("scrypt hashes verify the right password only", async () => {
  const h = await hashPassword("s3cret");
  assert.match(h, /^scrypt:16384:8:1:/);
  assert.equal(await verifyPassword("s3cret", h), true);
  assert.equal(await verifyPassword("S3cret", h), false);
});

Deno.test("ACL coverage: a rule pattern covers a subscription only when it covers all it can match", () => {
  assert.equal(covers("a.>", "a.*.b"), true);
  assert.equal(covers("a.*", "a.>"), false);
  assert.equal(covers("a.*", "a.b"), true);
  assert.equal(covers("a.b", "a.*"), false);
  assert.equal(covers(">", "$SYS.x"), false);
});

Deno.test("auth: good and bad passwords, unknown users, anonymous off, rate limiting per address", async () => {
  const tb = await startBroker({ plugins: [auth] });
  try {
    const ok = await tb.broker.openSession(client("alice", "alice-pw"), sink);
    assert.ok("principal" in ok && ok.principal.id === "alice");
    assert.equal(
      (await tb.broker.openSession(client("alice", "nope"), sink) as { code: string }).code,
      "bad_credentials",
    );
    assert.equal(
      (await tb.broker.openSession(client("mallory", "x"), sink) as { code: string }).code,
      "bad_credentials",
    );
    assert.equal((await tb.broker.openSession(client(), sink) as { code: string }).code, "bad_credentials");
    // Three failures from 10.0.0.1 within the window: even the right password is refused now.
    const limited = await tb.broker.openSession(client("alice", "alice-pw"), sink) as { reason: string };
    assert.match(limited.reason, /Too many failed logins/);
    const other = await tb.broker.openSession(client("alice", "alice-pw", "10.0.0.2:1"), sink);
    assert.ok("principal" in other);
  } finally {
    await tb.stop();
  }
});

Deno.test("auth: anonymous on loopback only when configured", async () => {
  const tb = await startBroker({
    plugins: [{ ...auth, options: { ...auth.options, anonymous: "loopback" } }],
  });
  try {
    assert.ok("principal" in await tb.broker.openSession(client(undefined, undefined, "127.0.0.1:1"), sink));
    assert.equal(
      (await tb.broker.openSession(client(undefined, undefined, "10.1.1.1:1"), sink) as { code: string })
        .code,
      "bad_credentials",
    );
  } finally {
    await tb.stop();
  }
});

async function mqttAs(tb: TestBroker, username: string, password: string) {
  return await mqtt.connectAsync(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, {
    username,
    password,
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
}

Deno.test("auth ACL over MQTT: SUBACK 0x87 and PUBACK 0x87 for denied destinations; reserved $SYS; revoked user", async () => {
  const tb = await startBroker({ plugins: [auth, mqttPlugin] });
  const alice = await mqttAs(tb, "alice", "alice-pw");
  try {
    // MQTT.js rejects a SUBACK with any failure code but keeps the packet on the error.
    const suback = await alice
      .subscribeAsync({
        "sensors/#": { qos: 1 },
        "sensors/secret": { qos: 1 },
        "$SYS/#": { qos: 0 },
        "other/x": { qos: 0 },
      })
      .then(() => undefined, (e: { packet?: { granted: number[] } }) => e.packet);
    assert.deepEqual(suback?.granted, [1, 0x87, 0x87, 0x87]);
    const got = new Collector<string>();
    alice.on("message", (t) => got.push(t));
    await alice.publishAsync("sensors/t1", "1", { qos: 1 });
    await got.atLeast(1);
    const denied = await new Promise<number>((resolve) =>
      // deno-lint-ignore no-explicit-any
      alice.publish("other/x", "1", { qos: 1 }, (_e, packet: any) => resolve(packet?.reasonCode ?? -1))
    );
    assert.equal(denied, 0x87);
    await assert.rejects(mqttAs(tb, "alice", "wrong"));
    // Revoked mid-session: the next authorize refuses.
    const svc: AuthService = tb.broker.host.service("auth")!;
    svc.removeUser("alice");
    const after = await new Promise<number>((resolve) =>
      // deno-lint-ignore no-explicit-any
      alice.publish("sensors/t2", "1", { qos: 1 }, (_e, packet: any) => resolve(packet?.reasonCode ?? -1))
    );
    assert.equal(after, 0x87);
  } finally {
    await alice.endAsync();
    await tb.stop();
  }
});

Deno.test("auth ACL over HTTP: 401 for bad credentials, 403 for a denied destination, 201 when allowed", async () => {
  const tb = await startBroker({
    plugins: [auth, { use: "http", options: { port: 0, hostname: "127.0.0.1" } }],
  });
  try {
    const post = async (path: string, user: string, pw: string) => {
      const res = await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/${path}/messages`, {
        method: "POST",
        body: "x",
        headers: { authorization: `Basic ${btoa(`${user}:${pw}`)}` },
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await post("topics/home.alice.lamp", "alice", "alice-pw"), 201);
    assert.equal(await post("topics/home.bob.lamp", "alice", "alice-pw"), 403);
    assert.equal(await post("topics/home.alice.lamp", "alice", "bad"), 401);
    assert.equal(await post("queues/DLQ.orders", "root", "root-pw"), 201);
  } finally {
    await tb.stop();
  }
});

Deno.test("auth: users come from a watched file too", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-auth-" });
  await Deno.writeTextFile(
    `${dataDir}/users.json`,
    JSON.stringify([{ username: "carol", password: "c-pw" }]),
  );
  const tb = await startBroker({ dataDir, plugins: [{ use: "auth", options: { usersFile: "users.json" } }] });
  try {
    assert.ok("principal" in await tb.broker.openSession(client("carol", "c-pw"), sink));
    await Deno.writeTextFile(
      `${dataDir}/users.json`,
      JSON.stringify([{ username: "dave", password: "d-pw" }]),
    );
    await within(
      (async () => {
        while (!("principal" in await tb.broker.openSession(client("dave", "d-pw", "10.9.9.9:1"), sink))) {
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      5000,
      "the file change to apply",
    );
  } finally {
    await tb.stop();
  }
});
