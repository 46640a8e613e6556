/**
 * What the route modules share: options, request sessions, receipts and the log.
 *
 * @module
 */
import type { DeliverySink, Logger, Reject, Session, TlsSettings } from "../../../mod.ts";
import type { Receipts } from "../receipts.ts";
import type { BodyLimits } from "./body.ts";

/** HTTP plugin options (see plugin.json). */
export interface HttpOptions {
  port: number;
  hostname: string;
  tls?: TlsSettings & { port: number };
  maxBodySize: number;
  bodyTimeoutMs: number;
  maxBatch: number;
  receiptTtlMs: number;
  consumerLeaseMs: number;
  maxWaitMs: number;
  heartbeatMs: number;
  sessionCacheTtlMs: number;
}

/** Per-request connection info Deno.serve passes as Hono's env. */
export interface ServeEnv {
  remote: string;
  /** Subject of the verified client certificate, on the TLS listener when it asks for one. */
  certificateSubject?: string;
  /** The listener the request came in on ("http", "http:tls"). */
  listener: string;
}

/** Shared by every route module. */
export interface HttpContext {
  readonly options: HttpOptions;
  readonly receipts: Receipts;
  readonly log: Logger;
  /** What a request body may be (maxBodySize, bodyTimeoutMs). */
  readonly body: BodyLimits;
  /** The cached session of the request's credentials; with a sink, a new session of its own. */
  session(req: Request, env: ServeEnv, sink?: DeliverySink): Promise<Session | Reject>;
}

/**
 * The slice of OpenAPIHono the route modules use. Handlers answer plain `Response`s (problem+json
 * included), which zod-openapi's typed-response checking cannot express, so the context is untyped
 * here; the request is still validated at run time against the route's schemas.
 */
export interface Routes {
  // deno-lint-ignore no-explicit-any
  openapi(route: unknown, handler: (c: any) => Response | Promise<Response>): void;
  // deno-lint-ignore no-explicit-any
  get(path: string, handler: (c: any) => Response | Promise<Response>): void;
  // deno-lint-ignore no-explicit-any
  post(path: string, handler: (c: any) => Response | Promise<Response>): void;
}
