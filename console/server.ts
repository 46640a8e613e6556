/**
 * The browser console as one request handler: server-rendered pages (routes/), the island bundles
 * (built on demand by build.ts) and static files, on a Hono app. The admin plugin mounts it at `/`.
 *
 * @example
 * ```ts
 * import { consoleHandler } from "./console/server.ts";
 * const handle = consoleHandler({ apiBase: "/api/v1/admin" });
 * Deno.serve((req) => handle(req));
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { buildIslands, type IslandBuild } from "./build.ts";
import { I18n, type Language, translate } from "./lib/i18n.ts";
import type { Page, PageContext } from "./lib/page.ts";
import { ServerApi } from "./lib/page.ts";
import { parsePrefs } from "./lib/prefs.ts";
import { ApiError } from "./lib/problem.ts";
import type { Session } from "./lib/types.ts";
import en from "./locales/en.json" with { type: "json" };
import zhCN from "./locales/zh-CN.json" with { type: "json" };
import { App } from "./routes/_app.tsx";
import { sessionRedirect } from "./routes/_middleware.ts";
import bridges from "./routes/bridges.tsx";
import connections from "./routes/connections.tsx";
import destinationDetail from "./routes/destinations/[kind]/[name].tsx";
import destinations from "./routes/destinations/index.tsx";
import newDestination from "./routes/destinations/new.tsx";
import errorPage, { notFoundPage } from "./routes/_error.tsx";
import dashboard from "./routes/index.tsx";
import login from "./routes/login.tsx";
import logs from "./routes/logs.tsx";
import plugins from "./routes/plugins.tsx";
import settings from "./routes/settings.tsx";
import topology from "./routes/topology.tsx";

/** Options of {@linkcode consoleHandler}. */
export interface ConsoleOptions {
  /** Path of the admin API, e.g. "/api/v1/admin". */
  apiBase: string;
  /**
   * How pages reach the API on the server. Defaults to `fetch` on the request's own origin; the admin
   * plugin may pass its app's handler to skip the loopback round trip.
   */
  fetchApi?: (req: Request) => Response | Promise<Response>;
  /** Told when the island build fails (pages are then served without interactivity). */
  onError?: (message: string, error: unknown) => void;
}

// deno-lint-ignore no-explicit-any
type AnyPage = Page<any>;

/** Fresh's file routes, spelled out: Hono pattern -> route module. */
const ROUTES: [string, AnyPage][] = [
  ["/", dashboard],
  ["/login", login],
  ["/destinations", destinations],
  ["/destinations/new", newDestination],
  ["/destinations/:kind/:name", destinationDetail],
  ["/connections", connections],
  ["/topology", topology],
  ["/bridges", bridges],
  ["/plugins", plugins],
  ["/logs", logs],
  ["/settings", settings],
];

const CATALOGS: Record<Language, typeof en> = { "en": en, "zh-CN": zhCN };

const STATIC_DIR = new URL("./static/", import.meta.url);
const CONTENT_TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
  json: "application/json",
  png: "image/png",
};

/** Page responses forbid framing and any script or connection not from this origin. */
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
};

async function serveFile(base: URL, rel: string, cache: string): Promise<Response> {
  // Only plain names and subfolders: nothing outside `base` can be named.
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(rel) || rel.split("/").some((p) => p.startsWith("."))) {
    return new Response("Not found", { status: 404 });
  }
  try {
    const body = await Deno.readFile(new URL(rel, base));
    const type = CONTENT_TYPES[rel.slice(rel.lastIndexOf(".") + 1)] ?? "application/octet-stream";
    return new Response(body, {
      headers: { "content-type": type, "cache-control": cache, "x-content-type-options": "nosniff" },
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
      return new Response("Not found", { status: 404 });
    }
    throw e;
  }
}

/** The console's request handler; starts building the islands at once if they are missing or stale. */
export function consoleHandler(opts: ConsoleOptions): (req: Request) => Promise<Response> {
  const fetchApi = opts.fetchApi ?? ((req: Request) => fetch(req));
  const islands: Promise<IslandBuild | null> = buildIslands().catch((e) => {
    opts.onError?.("console islands could not be built; pages work without interactivity", e);
    return null;
  });

  async function render(page: AnyPage, req: Request, params: Record<string, string>): Promise<Response> {
    const url = new URL(req.url);
    const prefs = parsePrefs(req.headers.get("cookie"));
    const catalog = CATALOGS[prefs.lang];
    const ctx: PageContext = {
      req,
      url,
      params,
      api: new ServerApi(req, opts.apiBase, async (r) => await fetchApi(r)),
      session: null,
      prefs,
      lang: prefs.lang,
      t: (key, p) => translate(catalog, key, p),
      apiBase: opts.apiBase,
    };
    let data: unknown;
    try {
      if (!page.public) ctx.session = await ctx.api.get<Session>("/session");
      const loaded = page.load ? await page.load(ctx) : undefined;
      if (loaded instanceof Response) return loaded;
      data = loaded;
    } catch (e) {
      if (e instanceof ApiError && e.needsLogin) return sessionRedirect(req, e.reason);
      data = { error: e, status: e instanceof ApiError && e.status === 404 ? 404 : 502 };
      page = errorPage;
    }
    const build = await islands;
    const html = renderToString(
      h(
        I18n.Provider,
        { value: catalog },
        h(App, {
          ctx,
          title: page.title(ctx.t, data, ctx),
          nav: page.nav,
          catalog,
          assets: { islands: build && `/_islands/${build.id}/`, version: build?.id ?? "0" },
          children: page.render(data, ctx),
        }),
      ),
    );
    return new Response("<!DOCTYPE html>" + html, {
      status: page.status?.(data) ?? 200,
      headers: PAGE_HEADERS,
    });
  }

  const app = new Hono();
  app.get(
    "/static/*",
    (c) => serveFile(STATIC_DIR, c.req.path.slice("/static/".length), "public, max-age=300"),
  );
  app.get("/_islands/:id/*", async (c) => {
    const build = await islands;
    if (!build || build.id !== c.req.param("id")) return c.text("Not found", 404);
    const rel = c.req.path.slice(`/_islands/${build.id}/`.length);
    return serveFile(new URL(`file://${build.dir}`), rel, "public, max-age=31536000, immutable");
  });
  for (const [pattern, page] of ROUTES) app.get(pattern, (c) => render(page, c.req.raw, c.req.param()));
  app.notFound((c) => render(notFoundPage, c.req.raw, {}));

  return async (req) => await app.fetch(req);
}
