/**
 * RFC 9457 problem details: one table from core error codes to HTTP statuses, one response shape.
 *
 * @module
 */
import type { ErrorCode, Reject } from "../../mod.ts";

const STATUS: Record<ErrorCode, number> = {
  not_authorized: 403,
  bad_credentials: 401,
  invalid_destination: 400,
  destination_not_found: 404,
  payload_too_large: 413,
  server_busy: 503,
  invalid_selector: 400,
  invalid_message: 400,
  invalid_argument: 400,
  not_found: 404,
  conflict: 409,
  closed: 503,
  plugin_not_found: 500,
  plugin_invalid: 500,
  plugin_options: 500,
  plugin_dependency: 500,
  plugin_failed: 500,
  manifest_invalid: 500,
  store_failed: 503,
};

/** The HTTP status of a core error code (400 for codes the table does not know). */
export const problemStatus = (code: string): number => STATUS[code as ErrorCode] ?? 400;

/** The stable problem type URI of a code. */
export const problemType = (code: string): string => `https://ferrymq.dev/problems/${code}`;

/** Codes of the HTTP API's own problems, beside the core's error codes. */
export type ProblemCode = ErrorCode | "method_not_allowed" | "invalid_json" | "request_timeout";

/** A problem details object: the body of a problem response, also sent in WebSocket error frames. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/** The problem details of a code; `status` overrides the table. */
export function problemJson(code: ProblemCode, detail: string, status?: number): Problem {
  const s = status ?? STATUS[code as ErrorCode] ?? 400;
  return { type: problemType(code), title: code.replaceAll("_", " "), status: s, detail };
}

/** An `application/problem+json` response. */
export function problem(code: ProblemCode, detail: string, status?: number): Response {
  const p = problemJson(code, detail, status);
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (p.status === 401) headers["www-authenticate"] = 'Basic realm="ferrymq", Bearer';
  return new Response(JSON.stringify(p), { status: p.status, headers });
}

/** Schema issues as one line: `path: message; ...`. */
export const issuesText = (issues: readonly { path: readonly PropertyKey[]; message: string }[]): string =>
  issues.map((i) => `${i.path.map(String).join(".") || "request"}: ${i.message}`).join("; ");

/** The problem response for a core Reject. */
export const rejectProblem = (r: Reject): Response => problem(r.code, r.reason);

/** 405 for a known path with the wrong method. */
export function methodNotAllowed(allowed: readonly string[]): Response {
  const r = problem("method_not_allowed", `Use ${allowed.join(" or ")}`, 405);
  r.headers.set("allow", allowed.join(", "));
  return r;
}
