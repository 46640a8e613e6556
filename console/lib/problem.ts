/**
 * The admin API's RFC 9457 problems as an error, and how the console words each reason.
 *
 * @module
 */
import type { MessageKey, T } from "./i18n.ts";

/** A non-2xx answer of the admin API. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly detail: string,
    /** Seconds from `retry-after`, when the API sent one (rate limiting). */
    readonly retryAfter?: number,
  ) {
    super(`${status} ${reason}: ${detail}`);
    this.name = "ApiError";
  }

  /** Reads a failed response's problem body; a body that is not a problem still gives status and text. */
  static async from(res: Response): Promise<ApiError> {
    const text = await res.text();
    let reason = `http_${res.status}`, detail = text || res.statusText;
    try {
      const p = JSON.parse(text);
      reason = p.reason ?? p.title ?? reason;
      detail = p.detail ?? p.title ?? detail;
    } catch {
      // Not JSON (a proxy's error page): keep the raw text.
    }
    const ra = Number(res.headers.get("retry-after"));
    return new ApiError(res.status, reason, detail, Number.isFinite(ra) && ra > 0 ? ra : undefined);
  }

  /** True when the session is gone and the user has to log in again. */
  get needsLogin(): boolean {
    return this.status === 401 && this.reason !== "bad_credentials" && this.reason !== "no_admin";
  }
}

const REASONS: Record<string, MessageKey> = {
  unauthenticated: "error.unauthenticated",
  session_expired: "error.session_expired",
  bad_credentials: "error.bad_credentials",
  no_admin: "error.no_admin",
  rate_limited: "error.rate_limited",
  csrf: "error.csrf",
  invalid_argument: "error.invalid_argument",
  invalid_json: "error.invalid_argument",
  invalid_destination: "error.invalid_destination",
  invalid_selector: "error.invalid_selector",
  not_found: "error.not_found",
  conflict: "error.conflict",
  unavailable: "error.unavailable",
};

/** What the console says about `err`: the reason in the reader's language, then the API's detail. */
export function describeError(t: T, err: unknown): string {
  if (!(err instanceof ApiError)) {
    return t("error.network", { detail: err instanceof Error ? err.message : String(err) });
  }
  if (err.reason === "rate_limited") return t("error.rate_limited", { seconds: err.retryAfter ?? 60 });
  const key = REASONS[err.reason];
  if (!key) return t("error.unexpected", { status: err.status, detail: err.detail });
  const head = t(key);
  // Credentials errors say all there is to say; others add the API's detail (it names the field).
  return err.status === 401 || !err.detail || err.detail === err.reason ? head : `${head} ${err.detail}`;
}

/**
 * Which form field an API error is about: a reason tied to one field (`invalid_selector` -> selector),
 * or the field an `invalid_argument` detail names first ("maxRedeliveries: must be >= 0").
 */
export function errorField(
  err: unknown,
  fields: readonly string[],
  byReason: Record<string, string> = {},
): string | null {
  if (!(err instanceof ApiError)) return null;
  if (byReason[err.reason]) return byReason[err.reason];
  if (err.reason !== "invalid_argument") return null;
  return fields.find((f) => new RegExp(`(^|[\\s.,;"'])${f}\\b`).test(err.detail)) ?? null;
}
