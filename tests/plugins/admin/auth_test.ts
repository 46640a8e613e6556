import assert from "node:assert/strict";
import { ConsoleSessions, LoginLimiter } from "../../../plugins/admin/session_auth.ts";
import { waitFor, within } from "../../helpers/wait.ts";
import { expectProblem, login, PASSWORD, startAdmin, USER } from "./helpers.ts";

/** startAdmin's options for a broker with no first admin configured. */
const NO_FIRST_ADMIN = { admin: { admin: undefined } };

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

Deno.test("admin: login sets an HttpOnly SameSite=Strict cookie; session and logout", async () => {
  const { tb, base, actions } = await startAdmin();
  try {
    await expectProblem(fetch(`${base}/session`), 401, "unauthenticated");
    const c = await login(base);
    assert.match(c.setCookie, /^ferrymq_admin=[A-Za-z0-9_-]{40,};/);
    assert.match(c.setCookie, /; HttpOnly/);
    assert.match(c.setCookie, /; SameSite=Strict/);
    assert.match(c.setCookie, /; Path=\//);
    assert.doesNotMatch(c.setCookie, /Secure/); // plain http here
    const s = await c.json<{ user: { username: string }; csrfToken: string; expiresAt: number }>(
      "GET",
      "/session",
    );
    assert.equal(s.user.username, USER);
    assert.equal(s.csrfToken, c.csrf);
    assert.ok(s.expiresAt > Date.now());
    assert.equal(actions.at(-1)?.action, "session.login");
    // Logout needs the CSRF token like any change.
    await expectProblem(
      fetch(`${base}/logout`, { method: "POST", headers: { cookie: c.cookie } }),
      403,
      "csrf",
    );
    const out = await c.call("POST", "/logout");
    assert.equal(out.status, 204);
    assert.match(out.headers.get("set-cookie")!, /Max-Age=0/);
    await expectProblem(c.call("GET", "/session"), 401, "unauthenticated");
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: wrong password is 401; repeated failures are rate limited per address with 429", async () => {
  const { tb, base } = await startAdmin({ admin: { loginMaxFailures: 3 } });
  try {
    await expectProblem(post(`${base}/login`, { username: USER, password: "wrong" }), 401, "bad_credentials");
    await expectProblem(
      post(`${base}/login`, { username: "nobody", password: PASSWORD }),
      401,
      "bad_credentials",
    );
    await expectProblem(post(`${base}/login`, { username: USER, password: "" }), 400, "invalid_argument");
    await expectProblem(
      post(`${base}/login`, { username: USER, password: "still wrong" }),
      401,
      "bad_credentials",
    );
    const res = await post(`${base}/login`, { username: USER, password: PASSWORD });
    const p = await expectProblem(res, 429, "rate_limited");
    assert.ok(Number(res.headers.get("retry-after")) > 0, JSON.stringify(p));
    assert.equal(res.headers.get("set-cookie"), null);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: a body without end is refused with 413 before anyone has logged in", async () => {
  const { tb, base } = await startAdmin({ limits: { maxMessageSize: 1024 } });
  try {
    const endless = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(4096).fill(0x20)),
    });
    await expectProblem(
      fetch(`${base}/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: endless,
        duplex: "half",
      } as RequestInit),
      413,
      "payload_too_large",
    );
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: the limiter locks an address for the window; a success takes back only its own attempt", () => {
  let now = 1_000;
  const l = new LoginLimiter(2, 10_000, () => now);
  l.fail("10.0.0.1");
  assert.equal(l.retryAfter("10.0.0.1"), 0);
  l.fail("10.0.0.1");
  assert.equal(l.retryAfter("10.0.0.1"), 10_000);
  assert.equal(l.retryAfter("10.0.0.2"), 0);
  now += 10_001;
  assert.equal(l.retryAfter("10.0.0.1"), 0);
  // The login route counts every attempt first; a success takes back its own, not the others'.
  l.fail("10.0.0.1"); // a wrong guess
  l.fail("10.0.0.1"); // a good login, counted first...
  l.succeed("10.0.0.1"); // ...and taken back
  assert.equal(l.retryAfter("10.0.0.1"), 0);
  l.fail("10.0.0.1"); // a second wrong guess
  assert.equal(l.retryAfter("10.0.0.1"), 10_000, "the good login did not clear the first guess");
});

Deno.test("admin: a session expires after the idle timeout; requests keep it alive", () => {
  let now = 0;
  const s = new ConsoleSessions(1000, () => now);
  const { cookie } = s.open({ username: "a", roles: [], createdAt: 0 });
  now = 900;
  assert.notEqual(typeof s.use(cookie), "string");
  now = 1800; // 900 ms after the last use
  assert.notEqual(typeof s.use(cookie), "string");
  now = 2801;
  assert.equal(s.use(cookie), "session_expired");
  assert.equal(s.use(cookie), "unauthenticated");
  assert.equal(s.use("forged"), "unauthenticated");
});

Deno.test("admin: an idle session gets 401 session_expired over HTTP", async () => {
  const { tb, base } = await startAdmin({ admin: { sessionIdleMs: 100 } });
  try {
    const c = await login(base);
    const loggedIn = Date.now();
    // Expiry is about time itself: wait until the idle timeout has passed, then ask once.
    await waitFor(() => Date.now() - loggedIn > 150, "the idle timeout to pass");
    await expectProblem(c.call("GET", "/stats"), 401, "session_expired");
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: changes without the session's CSRF token are refused and change nothing", async () => {
  const { tb, base, actions } = await startAdmin();
  try {
    const c = await login(base);
    const body = { name: "orders", kind: "queue" };
    await expectProblem(c.call("POST", "/destinations", body, { "x-csrf-token": "" }), 403, "csrf");
    await expectProblem(c.call("POST", "/destinations", body, { "x-csrf-token": c.csrf + "x" }), 403, "csrf");
    // A token from another session is no better.
    const other = await login(base);
    await expectProblem(c.call("POST", "/destinations", body, { "x-csrf-token": other.csrf }), 403, "csrf");
    // And the token without the cookie is not a session.
    await expectProblem(
      post(`${base}/destinations`, body, { "x-csrf-token": c.csrf }),
      401,
      "unauthenticated",
    );
    assert.equal(tb.broker.destinations().some((d) => d.name === "orders"), false);
    assert.equal(actions.filter((a) => a.action === "destination.create").length, 0);
    assert.equal((await c.call("POST", "/destinations", body)).status, 201);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: without a configured admin nobody can log in and the log says how to set one", async () => {
  const { tb, base } = await startAdmin(NO_FIRST_ADMIN);
  try {
    await expectProblem(post(`${base}/login`, { username: "admin", password: "admin" }), 401, "no_admin");
    const hint = tb.broker.logs.recent().find((r) =>
      r.logger === "admin" && /FERRYMQ_ADMIN_USER/.test(r.msg)
    );
    assert.ok(hint, "a warning naming the env variables");
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: the first admin can come from FERRYMQ_ADMIN_USER / FERRYMQ_ADMIN_PASSWORD", async () => {
  Deno.env.set("FERRYMQ_ADMIN_USER", "ops");
  Deno.env.set("FERRYMQ_ADMIN_PASSWORD", "from the environment");
  const { tb, base } = await startAdmin(NO_FIRST_ADMIN);
  try {
    const c = await login(base, "ops", "from the environment");
    const users = await c.json<{ username: string; passwordHash?: string }[]>("GET", "/users");
    assert.deepEqual(users.map((u) => u.username), ["ops"]);
    assert.equal(users[0].passwordHash, undefined);
  } finally {
    Deno.env.delete("FERRYMQ_ADMIN_USER");
    Deno.env.delete("FERRYMQ_ADMIN_PASSWORD");
    await tb.stop();
  }
});

Deno.test("admin: users are added, change password, and are removed (not the last one)", async () => {
  const { tb, base, actions } = await startAdmin();
  try {
    const c = await login(base);
    await expectProblem(
      c.call("POST", "/users", { username: "bob", password: "short" }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      c.call("POST", "/users", { username: "b b", password: "long enough" }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      c.call("POST", "/users", { username: USER, password: "long enough" }),
      409,
      "conflict",
    );
    assert.equal((await c.call("POST", "/users", { username: "bob", password: "long enough" })).status, 201);
    const bob = await login(base, "bob", "long enough");
    assert.equal((await c.call("PUT", "/users/bob/password", { password: "another one" })).status, 204);
    // Bob's sessions end with the password change; the new password works.
    await expectProblem(bob.call("GET", "/session"), 401, "unauthenticated");
    await expectProblem(
      post(`${base}/login`, { username: "bob", password: "long enough" }),
      401,
      "bad_credentials",
    );
    await login(base, "bob", "another one");
    const pw = actions.find((a) => a.action === "user.password")!;
    assert.equal(JSON.stringify(pw).includes("scrypt"), false, "no hash in the audit record");
    assert.equal((await c.call("DELETE", "/users/bob")).status, 204);
    await expectProblem(c.call("DELETE", `/users/${USER}`), 409, "conflict");
    await expectProblem(c.call("DELETE", "/users/bob"), 404, "not_found");
    const del = actions.find((a) => a.action === "user.delete")!;
    assert.equal((del.before as { username: string }).username, "bob");
    assert.equal(del.after, null);
    assert.equal(del.principal.id, USER);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: concurrent wrong passwords cannot get past the rate limit", async () => {
  const { tb, base } = await startAdmin({ admin: { loginMaxFailures: 3 } });
  try {
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => post(`${base}/login`, { username: USER, password: "wrong" })),
    );
    const statuses = burst.map((r) => r.status);
    await Promise.all(burst.map((r) => r.body?.cancel()));
    assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join());
    assert.equal(statuses.filter((s) => s === 429).length, 17);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: a live stream ends when its session is logged out", async () => {
  const { tb, base } = await startAdmin();
  try {
    const c = await login(base);
    const res = await c.call("GET", "/events");
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read(); // ": connected"
    assert.equal((await c.call("POST", "/logout")).status, 204);
    // The stream closes instead of carrying on (a sample comes every second).
    const drained = (async () => {
      while (!(await reader.read()).done) { /* frames sent before the logout was seen */ }
    })();
    await within(drained, 5000, "the stream to end");
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: a body that is not JSON gets 415, not an internal error", async () => {
  const { tb, base } = await startAdmin();
  try {
    const res = await fetch(`${base}/login`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ username: USER, password: PASSWORD }),
    });
    await expectProblem(res, 415, "unsupported_media_type");
  } finally {
    await tb.stop();
  }
});
