/**
 * The single table of stable error codes. Every failure a client or plugin author can see carries one
 * of these codes; protocol adapters map codes to wire codes, and `docs/errors.md` is generated from
 * this table by `scripts/gen_errors_doc.ts`.
 *
 * @module
 */

/** Each code with what it means; the wire mapping lives in each protocol plugin. */
export const ERROR_CODES = {
  not_authorized: "The principal may not do this (ACL denial or unauthenticated access).",
  bad_credentials: "Authentication failed: unknown user, wrong password or bad certificate.",
  invalid_destination: "The destination name or pattern is malformed or not allowed here.",
  destination_not_found: "The destination does not exist and auto-create is off.",
  payload_too_large: "The message is larger than the configured maximum.",
  server_busy: "The broker cannot take this now (a limit was hit or a plugin failed).",
  invalid_selector: "The selector expression does not parse.",
  invalid_message: "A message field has a value of the wrong type or out of range.",
  invalid_argument: "An argument to an API call is malformed.",
  not_found: "The named object (consumer, subscription, message) does not exist.",
  conflict: "The object exists already or is held by someone else (exclusive consumer, client id).",
  closed: "The session, subscription or broker is closed.",
  plugin_not_found: "A plugin named in the manifest cannot be found.",
  plugin_invalid: "A plugin or its manifest is malformed.",
  plugin_options: "A plugin's options do not match its JSON Schema.",
  plugin_dependency: "A plugin requires a service that no plugin provides, or requirements form a cycle.",
  plugin_failed: "A plugin threw or timed out while setting up or tearing down.",
  manifest_invalid: "broker.json is missing, is not JSON, or has a field of the wrong type.",
  store_failed: "The store could not write or read.",
} as const;

/** A stable error code from {@linkcode ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * An error with a stable code. Messages follow Deno std style: say what was wrong with the value,
 * quoted, without a trailing period.
 *
 * @example
 * ```ts
 * throw new BrokerError("invalid_destination", 'Cannot subscribe to "a.>.b": ">" must be the last level');
 * ```
 */
export class BrokerError extends Error {
  override name = "BrokerError";
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** True when `e` is a {@linkcode BrokerError}, optionally with the given code. */
export function isBrokerError(e: unknown, code?: ErrorCode): e is BrokerError {
  return e instanceof BrokerError && (code === undefined || e.code === code);
}
