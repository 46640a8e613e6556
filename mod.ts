/**
 * FerryMQ: a multi-protocol message broker. This module is the whole public API: embedders create a
 * broker with {@linkcode createBroker}; plugin authors write `definePlugin({...})` against the types
 * re-exported here and import nothing else from the broker.
 *
 * @example
 * ```ts
 * import { createBroker } from "./mod.ts";
 * const broker = await createBroker({ plugins: [] });
 * await broker.publish({ destination: "greetings", kind: "queue", body: "hello" });
 * await broker.stop();
 * ```
 *
 * @module
 */
export * from "./broker/api.ts";
export { BrokerError, ERROR_CODES, type ErrorCode, isBrokerError } from "./broker/errors.ts";
export {
  createMessage,
  DEFAULT_PRIORITY,
  messageSize,
  newMessageId,
  type ReservedMessageId,
  reserveMessageId,
} from "./broker/message.ts";
export { definePlugin } from "./broker/plugin.ts";
export { Broker, createBroker, type CreateBrokerOptions, type DeliveryHandler } from "./broker/broker.ts";
export { DEFAULT_LIMITS } from "./broker/core.ts";
export { compileSelector, type Selector } from "./broker/selector.ts";
export { decodeMessage, encodeMessage, encodeMessageView } from "./broker/message_codec.ts";
export {
  formatReplyTo,
  isPattern,
  matchesPattern,
  parseReplyTo,
  validateName,
  validatePattern,
} from "./broker/address.ts";
export { Matcher } from "./broker/matcher.ts";
export { hostOf, SocketTransport, TcpTransport, type Transport, WsTransport } from "./broker/transport.ts";
export {
  type HttpConnInfo,
  type Listening,
  listenTcp,
  listenTls,
  listenWebSocket,
  type ProtocolConnection,
  serveHttp,
  serveProtocol,
  type TcpIo,
} from "./broker/listen.ts";
export {
  type CertificateInfo,
  loadTls,
  TlsCertificates,
  type TlsPeer,
  type TlsSettings,
} from "./broker/tls.ts";
