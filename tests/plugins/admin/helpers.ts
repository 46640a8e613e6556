/**
 * A broker with http + admin on port 0 and a logged-in fetch client for the admin API tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { AdminEvent, PluginEntry } from "../../../mod.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";

export const USER = "root";
export const PASSWORD = "correct horse battery";

/** Starts http + admin (first admin root) plus `extra` plugins; collects adminAction events. */
export async function startAdmin(
  opts: { admin?: Record<string, unknown>; extra?: PluginEntry[]; limits?: Record<string, unknown> } = {},
): Promise<{ tb: TestBroker; base: string; actions: AdminEvent[] }> {
  const actions: AdminEvent[] = [];
  const tb = await startBroker({
    limits: opts.limits,
    plugins: [
      { use: "http", options: { port: 0, hostname: "127.0.0.1" } },
      ...(opts.extra ?? []),
      {
        use: "admin",
        options: { admin: { username: USER, password: PASSWORD }, console: false, ...opts.admin },
      },
    ],
  });
  tb.broker.hooks.on("admin-test", "adminAction", (e) => void actions.push(e));
  return { tb, base: `http://127.0.0.1:${tb.ports.http}/api/v1/admin`, actions };
}

/** A logged-in client: the cookie and CSRF token are sent with every call. */
export interface Client {
  cookie: string;
  csrf: string;
  setCookie: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

export async function login(base: string, username = USER, password = PASSWORD): Promise<Client> {
  const res = await fetch(`${base}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { csrfToken } = await res.json();
  const setCookie = res.headers.get("set-cookie")!;
  const cookie = setCookie.split(";")[0];
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        cookie,
        "x-csrf-token": csrfToken,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    cookie,
    csrf: csrfToken,
    setCookie,
    call,
    async json<T>(method: string, path: string, body?: unknown): Promise<T> {
      const r = await call(method, path, body);
      const text = await r.text();
      assert.ok(r.ok, `${method} ${path} -> ${r.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    },
  };
}

/** Asserts a problem response with `status` and `reason`; returns its body. */
export async function expectProblem(
  res: Response | Promise<Response>,
  status: number,
  reason: string,
): Promise<Record<string, unknown>> {
  const r = await res;
  const body = await r.json();
  assert.equal(r.status, status, JSON.stringify(body));
  assert.equal(r.headers.get("content-type"), "application/problem+json");
  assert.equal(body.reason, reason, JSON.stringify(body));
  return body;
}
