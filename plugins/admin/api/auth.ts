/**
 * Login, logout, the session, console users, and the guard every other route passes: a live session
 * cookie, and on changes the session's CSRF token in `X-CSRF-Token`.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { hostOf } from "../../../mod.ts";
import { errorProblem, problem } from "../problems.ts";
import { COOKIE, CSRF_HEADER, readCookie, sameToken, sessionCookie } from "../session_auth.ts";
import { MIN_PASSWORD } from "../users.ts";
import { type AdminContext, type AdminEnv, audit, type Routes } from "./context.ts";
import { route, User, z } from "./schemas.ts";

/** Paths reachable without a session. */
const PUBLIC = new Set(["/api/v1/admin/login", "/api/v1/admin/openapi.json"]);

/** Session and CSRF checks in front of every route but login and the OpenAPI document. */
export function guard(ac: AdminContext): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    if (PUBLIC.has(c.req.path)) return await next();
    const s = ac.sessions.use(readCookie(c.req.header("cookie") ?? null, COOKIE));
    if (s === "unauthenticated") return problem(s, "Log in first: no valid session cookie");
    if (s === "session_expired") return problem(s, "The session expired: log in again");
    const method = c.req.method;
    if (method !== "GET" && method !== "HEAD") {
      const sent = c.req.header(CSRF_HEADER);
      if (!sent || !sameToken(sent, s.csrfToken)) {
        return problem("csrf", `Missing or wrong ${CSRF_HEADER} header: send the csrfToken of GET /session`);
      }
    }
    c.set("session", s);
    await next();
  };
}

const Credentials = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
}).openapi("Credentials");
const SessionInfo = z.object({ user: User, csrfToken: z.string(), expiresAt: z.number().optional() })
  .openapi("Session");
const NewUser = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(MIN_PASSWORD).max(1024),
  roles: z.array(z.string().min(1)).max(16).optional(),
});
const UserParam = z.object({ username: z.string().min(1) });

/** Registers login, logout, session and user routes. */
export function authRoutes(app: Routes, ac: AdminContext): void {
  app.openapi(
    route({
      method: "post",
      path: "/login",
      summary: "Log in; sets the session cookie",
      body: Credentials,
      ok: [200, SessionInfo],
      problems: [429],
    }),
    async (c) => {
      const address = hostOf(c.env.remote);
      const wait = ac.limiter.retryAfter(address);
      if (wait > 0) {
        return problem("rate_limited", "Too many failed logins from this address: try again later", {
          "retry-after": String(Math.ceil(wait / 1000)),
        });
      }
      // Counted as a failure before the (slow) password check, so that a burst of concurrent attempts
      // cannot all pass the check above; a success clears it.
      ac.limiter.fail(address);
      const { username, password } = c.req.valid("json");
      if ((await ac.users.list()).length === 0) {
        return problem(
          "no_admin",
          "No console user exists: set the admin plugin's admin option or FERRYMQ_ADMIN_USER and FERRYMQ_ADMIN_PASSWORD",
        );
      }
      const user = await ac.users.verify(username, password);
      if (!user) return problem("bad_credentials", "Wrong username or password");
      ac.limiter.succeed(address);
      const { cookie, session } = ac.sessions.open(user);
      c.set("session", session);
      audit(ac.broker, c, { action: "session.login", object: user.username, before: null, after: { user } });
      return c.json({ user, csrfToken: session.csrfToken, expiresAt: ac.sessions.expiresAt(session) }, 200, {
        "set-cookie": sessionCookie(cookie, c.env.secure),
      });
    },
  );

  app.openapi(
    route({ method: "post", path: "/logout", summary: "Log out; clears the session cookie", ok: [204] }),
    (c) => {
      ac.sessions.close(readCookie(c.req.header("cookie") ?? null, COOKIE));
      const user = c.get("session").user;
      audit(ac.broker, c, { action: "session.logout", object: user.username, before: { user }, after: null });
      return new Response(null, { status: 204, headers: { "set-cookie": sessionCookie("", c.env.secure) } });
    },
  );

  app.openapi(
    route({ method: "get", path: "/session", summary: "The current session", ok: [200, SessionInfo] }),
    (c) => {
      const s = c.get("session");
      return c.json({ user: s.user, csrfToken: s.csrfToken, expiresAt: ac.sessions.expiresAt(s) });
    },
  );

  app.openapi(
    route({ method: "get", path: "/users", summary: "Console users", ok: [200, z.array(User)] }),
    async (c) => c.json(await ac.users.list()),
  );

  app.openapi(
    route({
      method: "post",
      path: "/users",
      summary: "Add a console user",
      body: NewUser,
      ok: [201, User],
      problems: [409],
    }),
    async (c) => {
      const b = c.req.valid("json");
      try {
        const u = await ac.users.create(b.username, b.password, b.roles);
        audit(ac.broker, c, { action: "user.create", object: u.username, before: null, after: u });
        return c.json(u, 201);
      } catch (e) {
        return errorProblem(e);
      }
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/users/{username}/password",
      summary: "Set a console user's password (ends that user's other sessions)",
      params: UserParam,
      body: z.object({ password: z.string().min(MIN_PASSWORD).max(1024) }),
      ok: [204],
      problems: [404],
    }),
    async (c) => {
      const { username } = c.req.valid("param");
      try {
        await ac.users.setPassword(username, c.req.valid("json").password);
      } catch (e) {
        return errorProblem(e);
      }
      ac.sessions.closeUser(username, c.get("session"));
      // The hash is no one's business, not even the audit log's: before/after say only that it changed.
      audit(ac.broker, c, {
        action: "user.password",
        object: username,
        before: { password: "***" },
        after: { password: "*** (changed)" },
      });
      return new Response(null, { status: 204 });
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/users/{username}",
      summary: "Remove a console user (not the last one)",
      params: UserParam,
      ok: [204],
      problems: [404, 409],
    }),
    async (c) => {
      const { username } = c.req.valid("param");
      try {
        const before = await ac.users.delete(username);
        ac.sessions.closeUser(username);
        audit(ac.broker, c, { action: "user.delete", object: username, before, after: null });
        return new Response(null, { status: 204 });
      } catch (e) {
        return errorProblem(e);
      }
    },
  );
}
