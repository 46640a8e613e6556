/**
 * Where a reader without a valid session goes: the login page, which brings them back afterwards and
 * says why they were sent there (their session expired, rather than "please log in").
 *
 * @module
 */

/** A 303 to `/login?next=<this page>`, with `reason` when a session existed but ended. */
export function sessionRedirect(req: Request, reason?: string): Response {
  const url = new URL(req.url);
  const q = new URLSearchParams({ next: url.pathname + url.search });
  const hadSession = /(?:^|;\s*)ferrymq_admin=/.test(req.headers.get("cookie") ?? "");
  if (hadSession && reason) q.set("reason", reason === "unauthenticated" ? "session_expired" : reason);
  return new Response(null, {
    status: 303,
    headers: { location: `/login?${q}`, "cache-control": "no-store" },
  });
}

/** A same-site path to return to after login; anything else (another origin, "//x") becomes "/". */
export function safeNext(next: string | null): string {
  if (!next?.startsWith("/")) return "/";
  // Resolved the way a browser resolves a Location: it drops tabs and newlines and reads "\\" as "/", so
  // "/\t/evil" is "//evil", another origin.
  const base = "http://console.invalid";
  const url = new URL(next, base);
  return url.origin === base ? url.pathname + url.search + url.hash : "/";
}
