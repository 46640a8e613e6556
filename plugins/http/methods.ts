/**
 * Which methods a path is served with, from the routes the app registered: the messaging API answers a
 * known path with the wrong method 405 and an `Allow` header, an unknown path 404.
 *
 * @module
 */
import { TrieRouter } from "hono/router/trie-router";

/** A function from a path to the methods its routes take; none for an unknown path. */
export function allowedMethods(
  routes: readonly { method: string; path: string }[],
): (path: string) => string[] {
  const router = new TrieRouter<string>();
  // Middleware is registered for every method; only routes tell what a path serves.
  for (const r of routes) if (r.method !== "ALL") router.add("ALL", r.path, r.method);
  return (path) => {
    const methods = new Set(router.match("ALL", path)[0].map(([method]) => method));
    if (methods.has("GET")) methods.add("HEAD"); // Hono answers HEAD with the GET route
    return [...methods];
  };
}
