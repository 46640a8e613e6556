/**
 * The admin API's RFC 9457 problems: the HTTP plugin's shape plus a `reason` code, for the core's
 * error codes and the API's own (login, session, CSRF).
 *
 * @module
 */
import { isBrokerError } from "../../mod.ts";
import { problemStatus, problemType } from "../http/problems.ts";

/** Reasons only this API uses, with their statuses. */
const OWN: Record<string, number> = {
  unauthenticated: 401,
  session_expired: 401,
  bad_credentials: 401,
  no_admin: 401,
  rate_limited: 429,
  csrf: 403,
  invalid_json: 400,
  unsupported_media_type: 415,
  unavailable: 503,
};

/** An `application/problem+json` response with a reason code. */
export function problem(reason: string, detail: string, headers: Record<string, string> = {}): Response {
  const status = OWN[reason] ?? problemStatus(reason);
  return new Response(
    JSON.stringify({ type: problemType(reason), title: reason.replaceAll("_", " "), status, detail, reason }),
    { status, headers: { ...headers, "content-type": "application/problem+json" } },
  );
}

/** The problem for a thrown BrokerError; anything else is rethrown (a 500 from onError). */
export function errorProblem(e: unknown): Response {
  if (isBrokerError(e)) return problem(e.code, e.message);
  throw e;
}
