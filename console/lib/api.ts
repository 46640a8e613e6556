/**
 * The browser's client of the admin API: JSON in and out, the CSRF token on changes, and a session that
 * ended sends the user back to the login page.
 *
 * @module
 */
/// <reference lib="dom" />
import { ApiError } from "./problem.ts";

function meta(name: string): string {
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? "";
}

/** Base path of the admin API, from the page's `ferrymq-api` meta tag. */
export function apiBase(): string {
  return meta("ferrymq-api");
}

/** The login page, coming back to this page afterwards. */
export function loginUrl(reason?: string): string {
  const next = location.pathname + location.search;
  const q = new URLSearchParams({ next });
  if (reason) q.set("reason", reason);
  return `/login?${q}`;
}

/** Calls `path` under the admin API; throws ApiError for 4xx/5xx (after redirecting when logged out). */
export async function api<R>(
  path: string,
  init: { method?: string; body?: unknown; csrf?: string } = {},
): Promise<R> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = init.csrf ?? meta("csrf-token");
  const res = await fetch(apiBase() + path, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: "same-origin",
  });
  if (!res.ok) {
    const err = await ApiError.from(res);
    if (err.needsLogin) location.assign(loginUrl(err.reason));
    throw err;
  }
  return (res.status === 204 ? undefined : await res.json()) as R;
}
