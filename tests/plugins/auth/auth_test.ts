import assert from "node:assert/strict";
import { createHmac, pbkdf2Sync } from "node:crypto";
import smCrypto from "sm-crypto";
import { compileRules, covers, evaluate, intersects } from "../../../plugins/auth/acl.ts";
import type { Session } from "../../../mod.ts";
import type { UsersService } from "../../../plugins/auth/mod.ts";
import { hmacSm3Prf, pbkdf2 } from "../../../plugins/auth/pbkdf2.ts";
import { fromHex } from "../../../plugins/crypto-sm/hex.ts";
import { passwordCheck } from "../../../plugins/auth/password_check.ts";
import { hashPassword, toUser, verifyPassword } from "../../../plugins/auth/users.ts";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";
import { mqttAs, pubackOf, stompAs } from "../acl/clients.ts";

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

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const hmacSha256 = (key: Uint8Array) => (d: Uint8Array) =>
  new Uint8Array(createHmac("sha256", key).update(d).digest());

Deno.test("PBKDF2: the construction matches node:crypto's PBKDF2-HMAC-SHA-256", async () => {
  for (const [iterations, len] of [[1, 32], [2, 20], [1000, 64]]) {
    const ours = await pbkdf2(hmacSha256(enc.encode("pw")), enc.encode("NaCl"), iterations, len);
    assert.equal(hex(ours), pbkdf2Sync("pw", "NaCl", iterations, len, "sha256").toString("hex"));
  }
});

Deno.test("PBKDF2-HMAC-SM3: a fixed vector, checked against sm-crypto's own HMAC-SM3", async () => {
  const pw = enc.encode("password"), salt = enc.encode("salt");
  // Computed independently with OpenSSL 3.0: python3 -c "import hashlib;
  // print(hashlib.pbkdf2_hmac('sm3', b'password', b'salt', 1000, 32).hex())"
  assert.equal(
    hex(await pbkdf2(hmacSm3Prf(pw), salt, 1000, 32)),
    "e8b635a41dfe5aaab7cf828cff6f3608e22cac59ba16edd70e000b293d00bc91",
  );
  // Deno's node:crypto (OpenSSL-backed) knows SM3 too.
  assert.equal(
    pbkdf2Sync("password", "salt", 1000, 32, "sm3").toString("hex"),
    hex(await pbkdf2(hmacSm3Prf(pw), salt, 1000, 32)),
  );
  // Second way: two iterations by hand with sm-crypto's HMAC mode (U1 xor U2).
  const sm3Hmac = (data: Uint8Array) => fromHex(smCrypto.sm3(Array.from(data), { key: hex(pw) }), "HMAC-SM3");
  const u1 = sm3Hmac(new Uint8Array([...salt, 0, 0, 0, 1]));
  const u2 = sm3Hmac(u1);
  assert.deepEqual(hmacSm3Prf(pw)(new Uint8Array([...salt, 0, 0, 0, 1])), u1);
  assert.deepEqual(await pbkdf2(hmacSm3Prf(pw), salt, 2, 32), u1.map((b, i) => b ^ u2[i]));
});

Deno.test("PBKDF2-SM3 hashes verify the right password only; scrypt hashes still verify", async () => {
  const h = await hashPassword("s3cret", "pbkdf2-sm3");
  assert.match(h, /^pbkdf2-sm3:10000:/);
  assert.equal(await verifyPassword("s3cret", h), true);
  assert.equal(await verifyPassword("s3cres", h), false);
  assert.equal(await verifyPassword("x", "md5:abc"), false);
});

Deno.test("an unknown user name costs a hash of the same kind and cost as a known one", async () => {
  for (
    const [scheme, kind] of [["scrypt", /^scrypt:16384:8:1:/], ["pbkdf2-sm3", /^pbkdf2-sm3:10000:/]] as const
  ) {
    const hashed: string[] = [];
    const check = await passwordCheck(scheme, (password, stored) => {
      hashed.push(stored);
      return verifyPassword(password, stored);
    });
    const alice = await toUser({ username: "alice", password: "pw" }, scheme);
    assert.equal(await check(alice, "pw"), true);
    assert.equal(await check(alice, "nope"), false);
    assert.equal(await check(undefined, "pw"), false);
    assert.equal(hashed.length, 3, "the unknown user went through verify too");
    assert.match(hashed[2], kind);
    assert.notEqual(hashed[2], alice.passwordHash);
  }
});

Deno.test("ACL coverage: a rule pattern covers a subscription only when it covers all it can match", () => {
  assert.equal(covers("a.>", "a.*.b"), true);
  assert.equal(covers("a.*", "a.>"), false);
  assert.equal(covers("a.*", "a.b"), true);
  assert.equal(covers("a.b", "a.*"), false);
  assert.equal(covers(">", "$SYS.x"), false);
});

Deno.test("ACL overlap: a deny rule applies to any subscription that could receive what it denies", () => {
  const yes: [string, string][] = [["a.secret.>", "a.>"], ["a.*.c", "a.b.*"], ["a.>", "a.b"], [">", "*"]];
  const no: [string, string][] = [["a.secret.>", "a.*"], ["a.b", "a.c"], [">", "$SYS.x"], ["*", "$SYS"], [
    "a.*",
    "a.b.c",
  ]];
  for (const [a, b] of yes) assert.equal(intersects(a, b) && intersects(b, a), true, `${a} ~ ${b}`);
  for (const [a, b] of no) assert.equal(intersects(a, b) || intersects(b, a), false, `${a} !~ ${b}`);
  const rules = compileRules([{ allow: false, pattern: "a.secret.>" }, { allow: true, pattern: "a.>" }]);
  assert.equal(evaluate(rules, { id: "u" }, "subscribe", "a.>"), false);
  assert.equal(evaluate(rules, { id: "u" }, "subscribe", "a.*"), true);
  assert.equal(evaluate(rules, { id: "u" }, "publish", "a.secret.x"), false);
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
    const counted = tb.broker.host.service("users")!.failedLogins();
    assert.equal(counted.total, 4);
    assert.deepEqual(counted.byAddress, { "10.0.0.1": 3 });
  } finally {
    await tb.stop();
  }
});

Deno.test("auth: a good login does not clear the failures others made from its address", async () => {
  const tb = await startBroker({ plugins: [auth] });
  const from = "10.0.0.7:1";
  const login = async (user: string, password: string) => {
    const r = await tb.broker.openSession(client(user, password, from), sink);
    if ("code" in r) return r.reason;
    await (r as Session).close("done");
    return "ok";
  };
  try {
    // Guesses at alice's password interleaved with root's own good logins from the same address.
    const out = [];
    for (const guess of ["g1", "g2", "g3"]) {
      out.push(await login("alice", guess), await login("root", "root-pw"));
    }
    assert.deepEqual(out.slice(0, 5), [
      "Unknown user or wrong password",
      "ok",
      "Unknown user or wrong password",
      "ok",
      "Unknown user or wrong password",
    ]);
    assert.match(out[5], /Too many failed logins/);
    assert.match(await login("alice", "alice-pw"), /Too many failed logins/);
    assert.deepEqual(tb.broker.host.service("users")!.failedLogins().byAddress, { "10.0.0.7": 3 });
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

Deno.test("auth ACL over MQTT: SUBACK 0x87 and PUBACK 0x87 for denied destinations; reserved $SYS", async () => {
  const tb = await startBroker({ plugins: [auth, mqttPlugin] });
  const alice = await mqttAs(tb.ports["mqtt:tcp"], "alice", "alice-pw");
  try {
    // MQTT.js rejects a SUBACK with any failure code but keeps the packet on the error.
    const suback = await alice
      .subscribeAsync({
        "sensors/#": { qos: 1 }, // overlaps the earlier deny of sensors/secret
        "sensors/t1": { qos: 1 },
        "sensors/secret": { qos: 1 },
        "$SYS/#": { qos: 0 },
        "other/x": { qos: 0 },
      })
      .then(() => undefined, (e: { packet?: { granted: number[] } }) => e.packet);
    assert.deepEqual(suback?.granted, [0x87, 1, 0x87, 0x87, 0x87]);
    const got = new Collector<string>();
    alice.on("message", (t) => got.push(t));
    await alice.publishAsync("sensors/t1", "1", { qos: 1 });
    await got.atLeast(1);
    assert.equal(await pubackOf(alice, "other/x"), 0x87);
    await assert.rejects(mqttAs(tb.ports["mqtt:tcp"], "alice", "wrong"));
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
    const users = tb.broker.host.service("users")!;
    await waitFor(() => users.get("dave"), "the file change to apply");
    assert.equal(users.get("carol"), undefined);
    assert.ok("principal" in await tb.broker.openSession(client("dave", "d-pw"), sink));
    // Replaced by rename, as editors save: the folder watch still sees it.
    await Deno.writeTextFile(`${dataDir}/users.tmp`, JSON.stringify([{ username: "erin", password: "e" }]));
    await Deno.rename(`${dataDir}/users.tmp`, `${dataDir}/users.json`);
    await waitFor(() => users.get("erin"), "the renamed file to apply");
  } finally {
    await tb.stop();
  }
});

Deno.test("auth: the users service adds, updates and removes users; changes survive a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-auth-" });
  const plugins = [{ use: "sqlite-store", options: { path: "broker.db" } }, auth];
  let tb = await startBroker({ dataDir, plugins });
  try {
    const users: UsersService = tb.broker.host.service("users")!;
    assert.deepEqual(await users.add({ username: "bob", password: "b1", groups: ["sensors"] }), {
      username: "bob",
      groups: ["sensors"],
      source: "api",
    });
    await assert.rejects(users.add({ username: "alice", password: "x" }), /exists already/);
    await assert.rejects(users.update("nobody", { groups: [] }), /No user "nobody"/);
    await users.update("bob", { password: "b2" });
    await users.update("alice", { groups: ["admin"] });
    assert.equal(await users.remove("root"), true);
    assert.equal(await users.remove("root"), false);
    assert.deepEqual(users.list().map((u) => `${u.username}:${u.source}:${u.groups}`), [
      "alice:api:admin",
      "bob:api:sensors",
    ]);
    await tb.stop({ keepData: true });
    tb = await startBroker({ dataDir, plugins });
    const open = (u: string, pw: string) =>
      tb.broker.openSession(client(u, pw, `10.0.0.${u.length}:1`), sink);
    assert.ok("principal" in await open("bob", "b2"));
    assert.equal((await open("bob", "b1") as { code: string }).code, "bad_credentials");
    assert.deepEqual(
      (await open("alice", "alice-pw") as Session).principal.groups,
      [
        "admin",
      ],
    );
    assert.equal((await open("root", "root-pw") as { code: string }).code, "bad_credentials");
  } finally {
    await tb.stop();
  }
});

Deno.test("auth: national-crypto profile hashes configured passwords with PBKDF2-SM3", async () => {
  const tb = await startBroker({
    plugins: [{ ...auth, options: { ...auth.options, nationalCrypto: true } }],
  });
  try {
    assert.ok("principal" in await tb.broker.openSession(client("alice", "alice-pw"), sink));
    const users = tb.broker.host.service("users")!;
    await users.add({ username: "sm", password: "国密" });
    assert.ok("principal" in await tb.broker.openSession(client("sm", "国密"), sink));
  } finally {
    await tb.stop();
  }
});

Deno.test("auth: a group change applies to an open session at its next authorize", async () => {
  const tb = await startBroker({ plugins: [auth] });
  try {
    const s = await tb.broker.openSession(client("alice", "alice-pw"), sink);
    assert.ok("principal" in s);
    assert.equal(await s.authorize("publish", "sensors.t", "topic"), true);
    await tb.broker.host.service("users")!.update("alice", { groups: [] });
    assert.equal(
      (await s.authorize("publish", "sensors.t", "topic") as { code: string }).code,
      "not_authorized",
    );
  } finally {
    await tb.stop();
  }
});

Deno.test("auth: a user removed mid-session is disconnected at once, one that only subscribes too (MQTT, STOMP)", async () => {
  const tb = await startBroker({
    plugins: [
      auth,
      mqttPlugin,
      { use: "stomp", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", heartBeatMs: 0 } },
    ],
  });
  const gone = new Collector<string>();
  tb.broker.hooks.on("test", "disconnected", (e) => gone.push(`${e.client.protocol}:${e.reason}`));
  try {
    const m = await mqttAs(tb.ports["mqtt:tcp"], "alice", "alice-pw");
    const st = await stompAs(tb.ports["stomp:tcp"], "alice", "alice-pw");
    const mClosed = new Promise<void>((r) => m.once("close", () => r()));
    const mDisconnect = new Promise<number | undefined>((r) => m.once("disconnect", (p) => r(p.reasonCode)));
    // Subscribers only: nothing they do would reach the authorize gate again.
    await m.subscribeAsync("sensors/ok", { qos: 1 });
    const subscribed = deferred<void>();
    st.client.watchForReceipt("s", () => subscribed.resolve());
    st.client.subscribe("/topic/sensors.ok", () => {}, { receipt: "s" });
    await within(subscribed.promise, 5000, "SUBSCRIBE receipt");
    await tb.broker.host.service("users")!.remove("alice");
    assert.equal(await within(mDisconnect, 5000, "DISCONNECT"), 0x87, "DISCONNECT: not authorized");
    await mClosed;
    assert.match((await st.errors.atLeast(1))[0], /was removed/);
    await st.closed;
    await gone.atLeast(2);
    assert.deepEqual(gone.items.sort(), ['mqtt:User "alice" was removed', 'stomp:User "alice" was removed']);
    assert.deepEqual(tb.broker.connections(), []);
    await m.endAsync(true);
    await st.client.deactivate();
  } finally {
    await tb.stop();
  }
});
