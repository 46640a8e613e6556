/**
 * MQTT reason codes (5.0) and return codes (3.1.1), and the mapping from the core's stable
 * {@linkcode ErrorCode}s to them. One table per packet type, so a new core code is one line here.
 *
 * @module
 */
import type { ErrorCode, Reject } from "../../mod.ts";

/** MQTT 5.0 reason codes used by this plugin (MQTT 5.0 section 2.4). */
export const RC = {
  SUCCESS: 0x00,
  GRANTED_QOS_1: 0x01,
  GRANTED_QOS_2: 0x02,
  DISCONNECT_WITH_WILL: 0x04,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  CONTINUE_AUTHENTICATION: 0x18,
  REAUTHENTICATE: 0x19,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  BAD_USERNAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  PACKET_IDENTIFIER_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  SERVER_SHUTTING_DOWN: 0x8b,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xa1,
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xa2,
} as const;

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
export const CONNACK_V4 = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL_VERSION: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const;

const CONNACK_5: Partial<Record<ErrorCode, number>> = {
  bad_credentials: RC.BAD_USERNAME_OR_PASSWORD,
  not_authorized: RC.NOT_AUTHORIZED,
  server_busy: RC.SERVER_BUSY,
  conflict: RC.CLIENT_IDENTIFIER_NOT_VALID,
  invalid_destination: RC.TOPIC_NAME_INVALID,
  payload_too_large: RC.PACKET_TOO_LARGE,
  closed: RC.SERVER_UNAVAILABLE,
  store_failed: RC.SERVER_UNAVAILABLE,
};

const CONNACK_4: Partial<Record<ErrorCode, number>> = {
  bad_credentials: CONNACK_V4.BAD_USERNAME_OR_PASSWORD,
  not_authorized: CONNACK_V4.NOT_AUTHORIZED,
  conflict: CONNACK_V4.IDENTIFIER_REJECTED,
};

const PUBACK_5: Partial<Record<ErrorCode, number>> = {
  not_authorized: RC.NOT_AUTHORIZED,
  bad_credentials: RC.NOT_AUTHORIZED,
  invalid_destination: RC.TOPIC_NAME_INVALID,
  destination_not_found: RC.TOPIC_NAME_INVALID,
  payload_too_large: RC.QUOTA_EXCEEDED,
  server_busy: RC.QUOTA_EXCEEDED,
  invalid_message: RC.PAYLOAD_FORMAT_INVALID,
  invalid_argument: RC.IMPLEMENTATION_SPECIFIC_ERROR,
};

const SUBACK_5: Partial<Record<ErrorCode, number>> = {
  not_authorized: RC.NOT_AUTHORIZED,
  bad_credentials: RC.NOT_AUTHORIZED,
  invalid_destination: RC.TOPIC_FILTER_INVALID,
  invalid_selector: RC.TOPIC_FILTER_INVALID,
  destination_not_found: RC.TOPIC_FILTER_INVALID,
  server_busy: RC.QUOTA_EXCEEDED,
  invalid_argument: RC.IMPLEMENTATION_SPECIFIC_ERROR,
};

/** The CONNACK code for a refused connection: a 3.1.1 return code or a 5.0 reason code. */
export function connackCode(r: Reject, version: number): number {
  if (version === 5) return CONNACK_5[r.code] ?? RC.UNSPECIFIED_ERROR;
  return CONNACK_4[r.code] ?? CONNACK_V4.SERVER_UNAVAILABLE;
}

/** The PUBACK / PUBREC reason code (5.0) for a refused publish. */
export function pubackCode(r: Reject): number {
  return PUBACK_5[r.code] ?? RC.UNSPECIFIED_ERROR;
}

/** The SUBACK code for a refused subscription: 0x80 on 3.1.1, a reason code on 5.0. */
export function subackCode(r: Reject, version: number): number {
  if (version !== 5) return 0x80;
  return SUBACK_5[r.code] ?? RC.UNSPECIFIED_ERROR;
}

/** The wire code of a reject for the adapter's `wireCode` (5.0 PUBACK semantics). */
export function wireCode(r: Reject): number {
  return pubackCode(r);
}
