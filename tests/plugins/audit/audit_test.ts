import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { AuditService } from "../../../plugins/audit/mod.ts";
import { AuditLog } from "../../../plugins/audit/log.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { mqttAs, pubackOf } from "../acl/clients.ts";

const auth = {
  use: "auth",
  options: {
    users: [
      { username: "alice", password: "alice-pw", groups: ["staff"] },
      { username: "root", password: "root-pw", groups: ["admin"] },
    ],
    acl: { rules: [{ allow: true, pattern: "staff.>", groups: ["staff"] }] },
  },
};
const mqttPlugin = { use: "mqtt", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 } };
const http = { use: "http", options: { port: 0, hostname: "127.0.0.1" } };
const audit = (options: Record<string, unknown> = {}) => ({
  use: "audit",
  options: { flushMs: 10, ...options },
});
const svc = (tb: TestBroker): AuditService => tb.broker.host.service("audit")!;

Deno.test("audit: logins, failed logins, ACL denials, connections and admin actions, with who, when, what, where", async () => {
  const t0 = Date.now();
  const tb = await startBroker({ plugins: [auth, mqttPlugin, audit()] });
  try {
    const port = tb.ports["mqtt:tcp"];
    const alice = await mqttAs(port, "alice", "alice-pw");
    assert.equal(await pubackOf(alice, "secret/x"), 0x87);
    await alice.endAsync();
    await assert.rejects(mqttAs(port, "alice", "wrong"));
    tb.broker.emit("adminAction", {
      principal: { id: "root" },
      action: "destination.update",
      object: "queue:orders",
      before: { maxRedeliveries: 3 },
      after: { maxRedeliveries: 5 },
      remote: "10.1.2.3:4444",
    });
    const a = svc(tb);
    const { entries } = await a.query({ order: "asc" });
    const seen = entries.map((e) =>
      `${e.kind} ${e.action} ${e.user} ${e.object?.startsWith("c-") ? "<client>" : e.object}`
    );
    assert.deepEqual(seen, [
      "login login.success alice <client>",
      "connect client.connect alice <client>",
      "access_denied acl.publish alice secret.x",
      "disconnect client.disconnect alice <client>",
      "login_failed login.failure alice <client>",
      "admin destination.update root queue:orders",
    ]);
    for (const e of entries) {
      assert.ok(e.ts >= t0 && e.ts <= Date.now(), "when");
      if (e.kind !== "admin") assert.match(e.remote!, /^127\.0\.0\.1:\d+$/, "from where");
      if (e.kind !== "admin") assert.equal(e.protocol, "mqtt");
    }
    const denied = entries[2];
    assert.deepEqual(denied.detail, {
      kind: "topic",
      code: "not_authorized",
      reason: 'Not allowed to publish "secret.x"',
    });
    assert.deepEqual(entries[4].detail, {
      code: "bad_credentials",
      reason: "Unknown user or wrong password",
      listener: "mqtt:tcp",
    });
    assert.deepEqual([entries[5].before, entries[5].after, entries[5].remote], [
      { maxRedeliveries: 3 },
      { maxRedeliveries: 5 },
      "10.1.2.3:4444",
    ]);
    // Filters: user, action (prefix), object, kind, time range; paging newest first.
    assert.equal((await a.query({ user: "root" })).entries.length, 1);
    assert.equal((await a.query({ action: "login.*" })).entries.length, 2);
    assert.equal((await a.query({ object: "secret.x" })).entries[0].action, "acl.publish");
    assert.equal((await a.query({ kind: "disconnect" })).entries.length, 1);
    assert.equal((await a.query({ from: Date.now() + 1000 })).entries.length, 0);
    assert.equal((await a.query({ to: t0 })).entries.length, 0);
    const p1 = await a.query({ limit: 4 });
    assert.equal(p1.entries.length, 4);
    assert.equal(p1.entries[0].action, "destination.update");
    const p2 = await a.query({ limit: 4, cursor: p1.next });
    assert.deepEqual(p2.entries.map((e) => e.action), ["client.connect", "login.success"]);
    assert.equal(p2.next, undefined);
    assert.deepEqual((await a.verify()).ok, true);
  } finally {
    await tb.stop();
  }
});

Deno.test("audit: the log survives a restart and the chain continues across it (SM3 chain)", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-audit-" });
  const emit = (tb: TestBroker, object: string) =>
    tb.broker.emit("adminAction", {
      principal: { id: "root" },
      action: "user.create",
      object,
      after: { object },
    });
  let tb = await startBroker({ dataDir, plugins: [audit({ hash: "sm3" })] });
  try {
    emit(tb, "u1");
    emit(tb, "u2");
    await svc(tb).flush();
    await tb.stop({ keepData: true });
    tb = await startBroker({ dataDir, plugins: [audit({ hash: "sm3" })] });
    emit(tb, "u3");
    const { entries } = await svc(tb).query({ order: "asc" });
    assert.deepEqual(entries.map((e) => [e.seq, e.object]), [[1, "u1"], [2, "u2"], [3, "u3"]]);
    assert.equal(entries[2].prevHash, entries[1].hash);
    assert.match(entries[0].hash, /^sm3:[0-9a-f]{64}$/);
    assert.deepEqual(await svc(tb).verify(), {
      ok: true,
      checked: 3,
      head: { seq: 3, hash: entries[2].hash },
    });
  } finally {
    await tb.stop();
  }
});

Deno.test("audit: UPDATE and DELETE are refused by triggers; an edit behind their back breaks the chain", async () => {
  const tb = await startBroker({ plugins: [audit()] });
  try {
    for (const o of ["a", "b", "c"]) {
      tb.broker.emit("adminAction", { principal: { id: "root" }, action: "destination.delete", object: o });
    }
    await svc(tb).flush();
    const db = new DatabaseSync(`${tb.dataDir}/audit.db`);
    try {
      assert.throws(() => db.exec("UPDATE audit SET user = 'mallory' WHERE seq = 2"), /append-only/);
      assert.throws(() => db.exec("DELETE FROM audit WHERE seq = 2"), /append-only/);
      db.exec("DROP TRIGGER audit_no_update; UPDATE audit SET user = 'mallory' WHERE seq = 2");
    } finally {
      db.close();
    }
    const v = await svc(tb).verify();
    assert.equal(v.ok, false);
    assert.equal(v.brokenAt, 2);
    assert.match(v.reason!, /does not match its hash/);
  } finally {
    await tb.stop();
  }
});

Deno.test("audit log: retention removes a prefix only, records where it cut, and the rest still verifies", () => {
  const dir = Deno.makeTempDirSync({ prefix: "ferrymq-audit-" });
  const log = new AuditLog(`${dir}/a.db`, { hash: "sha256", synchronous: "NORMAL" });
  try {
    const day = 86_400_000, now = Date.now();
    for (let i = 0; i < 10; i++) {
      log.append({ ts: now - (10 - i) * day, kind: "admin", action: "x", object: `o${i}` });
    }
    log.flush();
    const cut = log.prune(now - 5.5 * day);
    assert.deepEqual(cut && { through: cut.through, removed: cut.removed }, { through: 5, removed: 5 });
    assert.equal(log.query({ order: "asc" }).entries[0].seq, 6);
    assert.deepEqual(log.verify().ok, true);
    log.append({ ts: now, kind: "audit", action: "audit.prune", detail: cut });
    log.flush();
    assert.equal(log.verify().checked, 6);
    const db = new DatabaseSync(`${dir}/a.db`);
    assert.throws(() => db.exec("DELETE FROM audit_prune"), /append-only/);
    assert.throws(() => db.exec("UPDATE audit_prune SET through = 9"), /append-only/);
    assert.throws(() => db.exec("DELETE FROM audit WHERE seq = 6"), /append-only/);
    db.close();
    // Retention never removes the newest entry, whatever its age.
    assert.equal(log.prune(now + day)?.through, 10);
    assert.deepEqual(log.query({}).entries.map((e) => e.seq), [11]);
    assert.equal(log.verify().ok, true);
  } finally {
    log.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("audit: a flood of connections is written in a few batched transactions", async () => {
  const tb = await startBroker({ plugins: [audit({ flushMs: 1000, maxBatch: 500 })] });
  try {
    const client = (i: number) => ({ clientId: `c${i}`, protocol: "test", remote: "10.0.0.1:1" });
    const sessions = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => tb.broker.openSession(client(i), { deliver() {} })),
    );
    for (const s of sessions) if ("close" in s) await s.close("bye");
    await svc(tb).flush();
    const { written, transactions } = svc(tb).stats();
    assert.equal(written, 2000);
    assert.ok(transactions <= 5, `${transactions} transactions for 2000 entries`);
  } finally {
    await tb.stop();
  }
});

Deno.test("audit over HTTP: admins read it (filters, paging, verify); others get 403, bad credentials 401", async () => {
  const tb = await startBroker({ plugins: [auth, http, audit()] });
  try {
    for (let i = 0; i < 3; i++) {
      tb.broker.emit("adminAction", {
        principal: { id: "root" },
        action: "destination.create",
        object: `q${i}`,
      });
    }
    const get = async (query: string, user: string, pw: string) => {
      const res = await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/audit${query}`, {
        headers: { authorization: `Basic ${btoa(`${user}:${pw}`)}` },
      });
      return { status: res.status, body: await res.json() };
    };
    const page = await get("?action=destination.create&limit=2", "root", "root-pw");
    assert.equal(page.status, 200);
    assert.deepEqual(page.body.entries.map((e: { object: string }) => e.object), ["q2", "q1"]);
    const rest = await get(`?action=destination.create&limit=2&cursor=${page.body.next}`, "root", "root-pw");
    assert.deepEqual(rest.body.entries.map((e: { object: string }) => e.object), ["q0"]);
    assert.equal((await get("/verify", "root", "root-pw")).body.ok, true);
    const forbidden = await get("", "alice", "alice-pw");
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.reason, "not_authorized");
    assert.equal((await get("", "alice", "nope")).status, 401);
    const bad = await get("?kind=nonsense", "root", "root-pw");
    assert.equal(bad.status, 400);
    assert.match(bad.body.detail, /kind/);
    // The refused reader shows up in the log itself.
    const denials = await get("?kind=access_denied", "root", "root-pw");
    assert.deepEqual(
      denials.body.entries.map((e: { user: string; object: string }) => `${e.user} ${e.object}`),
      [
        "alice $SYS.audit",
      ],
    );
  } finally {
    await tb.stop();
  }
});
