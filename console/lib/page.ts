/**
 * What a route module exports (`definePage`) and what it gets to load its data on the server.
 *
 * @module
 */
import type { VNode } from "preact";
import type { Language, MessageKey, T } from "./i18n.ts";
import type { Prefs } from "./prefs.ts";
import { ApiError } from "./problem.ts";
import type { Session } from "./types.ts";

/** Nav entries; a page names the one it belongs to. */
export type NavId =
  | "dashboard"
  | "destinations"
  | "connections"
  | "topology"
  | "bridges"
  | "plugins"
  | "logs"
  | "settings";

/** Reads the admin API on behalf of the page's reader (their cookie goes along). */
export class ServerApi {
  #req: Request;
  #base: string;
  #fetch: (req: Request) => Promise<Response>;

  constructor(req: Request, base: string, fetcher: (req: Request) => Promise<Response>) {
    this.#req = req;
    this.#base = base;
    this.#fetch = fetcher;
  }

  /** GETs `path` under the API base; throws ApiError on a non-2xx answer. */
  async get<R>(path: string): Promise<R> {
    const headers = new Headers({ accept: "application/json" });
    const cookie = this.#req.headers.get("cookie");
    if (cookie) headers.set("cookie", cookie);
    const res = await this.#fetch(new Request(new URL(this.#base + path, this.#req.url), { headers }));
    if (!res.ok) throw await ApiError.from(res);
    return await res.json() as R;
  }
}

/** Everything a page's `load` and `render` see. */
export interface PageContext {
  req: Request;
  url: URL;
  params: Record<string, string>;
  api: ServerApi;
  /** The reader's session; null only on public pages (login). */
  session: Session | null;
  prefs: Prefs;
  lang: Language;
  t: T;
  apiBase: string;
}

/** A route: its title, an optional server-side data load, and the page body. */
export interface Page<D> {
  nav?: NavId;
  /** Pages anyone may open (the login page); all others need a session. */
  public?: boolean;
  title(t: T, data: D, ctx: PageContext): string;
  /** Loads the page's data; may return a Response (a redirect) instead. ApiError 404 shows "not found". */
  load?(ctx: PageContext): Promise<D | Response>;
  render(data: D, ctx: PageContext): VNode;
  /** The response status for `data` (200 when absent). */
  status?(data: D): number;
}

/** Types a route module's default export. */
export function definePage<D = undefined>(page: Page<D>): Page<D> {
  return page;
}

/** A page title from a message key, for pages whose title does not depend on data. */
export function titled(key: MessageKey): (t: T) => string {
  return (t) => t(key);
}
