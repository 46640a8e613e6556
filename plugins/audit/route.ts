/**
 * GET <path>?from=&to=&user=&action=&object=&kind=&limit=&cursor=&order= and GET <path>/verify on the
 * http plugin's listener. The caller's credentials (HTTP Basic, or Bearer as the password of the empty
 * user name) go through the core's authenticate gate, then the authorize gate must grant the `admin`
 * action on `destination` (a reserved `$SYS` name by default, so only the admin group passes).
 *
 * @module
 */
import { type HttpMount, isReject, type Session } from "../../mod.ts";
import { AUDIT_KINDS, type AuditFilter, type AuditKind, type AuditPage, type AuditVerdict } from "./log.ts";

/** What the route needs from the plugin. */
export interface AuditReader {
  query(f: AuditFilter): Promise<AuditPage>;
  verify(): Promise<AuditVerdict>;
}

function problem(status: number, reason: string, detail: string): Response {
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (status === 401) headers["www-authenticate"] = 'Basic realm="ferrymq", Bearer';
  return Response.json(
    { type: `https://ferrymq.dev/problems/${reason}`, title: reason, status, detail, reason },
    { status, headers },
  );
}

/** A time given as ms since the epoch or as an ISO 8601 string. */
function time(v: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(t)) throw new RangeError(`"${v}" is not a time (ms since the epoch or ISO 8601)`);
  return t;
}

/** The filter a query string describes; throws RangeError naming a bad field. */
export function filterOf(q: URLSearchParams): AuditFilter {
  const f: AuditFilter = {};
  for (const key of ["user", "action", "object", "cursor"] as const) {
    const v = q.get(key);
    if (v !== null && v !== "") f[key] = v;
  }
  const from = q.get("from"), to = q.get("to"), kind = q.get("kind"), limit = q.get("limit");
  const order = q.get("order");
  if (from) f.from = time(from);
  if (to) f.to = time(to);
  if (kind) {
    if (!AUDIT_KINDS.includes(kind as AuditKind)) {
      throw new RangeError(`kind: "${kind}" is not one of ${AUDIT_KINDS.join(", ")}`);
    }
    f.kind = kind as AuditKind;
  }
  if (limit) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1) {
      throw new RangeError(`limit: "${limit}" is not a positive integer`);
    }
    f.limit = Number(limit);
  }
  if (order) {
    if (order !== "asc" && order !== "desc") throw new RangeError(`order: "${order}" is not asc or desc`);
    f.order = order;
  }
  if (f.cursor !== undefined && !/^\d+$/.test(f.cursor)) {
    throw new RangeError(`cursor: "${f.cursor}" is not valid`);
  }
  return f;
}

/** The route's fetch handler. */
export function auditRoute(
  http: HttpMount,
  reader: AuditReader,
  opts: { path: string; destination: string },
): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const sub = url.pathname.slice(opts.path.length);
    if (sub !== "" && sub !== "/" && sub !== "/verify") {
      return problem(404, "not_found", `No route ${url.pathname}`);
    }
    if (req.method !== "GET") return problem(405, "method_not_allowed", "Only GET is allowed here");
    const session = await http.sessionFor(req);
    if (isReject(session)) return problem(401, session.code, session.reason);
    return await answer(session, sub, url, reader, opts.destination);
  };
}

async function answer(
  session: Session,
  sub: string,
  url: URL,
  reader: AuditReader,
  destination: string,
): Promise<Response> {
  const allowed = await session.authorize("admin", destination, "topic");
  if (allowed !== true) return problem(403, allowed.code, allowed.reason);
  if (sub === "/verify") return Response.json(await reader.verify());
  let f: AuditFilter;
  try {
    f = filterOf(url.searchParams);
  } catch (e) {
    return problem(400, "invalid_argument", (e as Error).message);
  }
  return Response.json(await reader.query(f));
}
