/**
 * What the admin route modules share: the broker, users and sessions, the statistics sampler, the
 * optional delay, dlq and bridge services, runtime plugin instances, and the audit call every change goes through.
 *
 * @module
 */
import type { BrokerApi, RuntimePlugins } from "../../../mod.ts";
import type { BridgeService } from "../../bridge/mod.ts";
import type { DelayService } from "../../delay/mod.ts";
import type { DlqService } from "../../dlq/mod.ts";
import type { ConsoleSession, ConsoleSessions, LoginLimiter } from "../session_auth.ts";
import type { StatsSampler } from "../stats.ts";
import type { AdminUsers, FirstAdmin } from "../users.ts";

/** Admin plugin options (see plugin.json). */
export interface AdminOptions {
  admin?: FirstAdmin;
  sessionIdleMs: number;
  loginMaxFailures: number;
  loginWindowMs: number;
  console: boolean;
}

/** Hono env: the caller's address from Deno.serve and, once checked, the console session. */
export interface AdminEnv {
  Bindings: { remote: string; secure: boolean };
  Variables: { session: ConsoleSession };
}

/**
 * The slice of OpenAPIHono the route modules use. Handlers answer plain `Response`s (problems
 * included), which zod-openapi's typed responses cannot express, so the context is untyped here; the
 * request is still validated at run time against the route's schemas.
 */
export interface Routes {
  // deno-lint-ignore no-explicit-any
  openapi(route: unknown, handler: (c: any) => Response | Promise<Response>): void;
}

/** One change, reported through the adminAction hook. */
export interface Change {
  action: string;
  object: string;
  before: unknown;
  after: unknown;
}

/** Shared by every route module. */
export interface AdminContext {
  readonly broker: BrokerApi;
  readonly users: AdminUsers;
  readonly sessions: ConsoleSessions;
  readonly limiter: LoginLimiter;
  readonly sampler: StatsSampler;
  readonly dataDir: string;
  readonly version: string;
  /** The delay plugin's service when it runs. */
  delay(): DelayService | undefined;
  /** The dlq plugin's service when it runs. */
  dlq(): DlqService | undefined;
  /** Adds and removes runtime plugin instances (bridges). */
  readonly plugins: RuntimePlugins;
  /** Every bridge plugin instance's service, by service name, now. */
  bridges(): ReadonlyMap<string, BridgeService>;
}

/** Emits `adminAction` for the request's console user. */
export function audit(
  broker: BrokerApi,
  // deno-lint-ignore no-explicit-any
  c: { get(k: "session"): ConsoleSession | undefined; env: any },
  change: Change,
): void {
  const user = c.get("session")?.user;
  broker.emit("adminAction", {
    principal: { id: user?.username ?? "anonymous", groups: user?.roles },
    ...change,
    remote: c.env?.remote,
  });
}
