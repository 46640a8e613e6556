/**
 * The audit plugin: admin actions, logins and failed logins, ACL denials, connections and
 * disconnections go to an append-only, hash-chained log in its own SQLite file, written in batches.
 * Queried through the `audit` service and GET /api/v1/audit on the http plugin.
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import { type ClientInfo, definePlugin } from "../../mod.ts";
import {
  type AuditFilter,
  type AuditKind,
  AuditLog,
  type AuditPage,
  type AuditRecord,
  type AuditVerdict,
  type ChainHash,
} from "./log.ts";
import { auditRoute } from "./route.ts";

export type { AuditEntry, AuditFilter, AuditKind, AuditPage, AuditRecord, AuditVerdict } from "./log.ts";

interface Options {
  path: string;
  hash: ChainHash;
  synchronous: "NORMAL" | "FULL";
  flushMs: number;
  maxBatch: number;
  retentionDays: number;
  events: AuditKind[];
  httpPath: string;
  adminDestination: string;
}

/** The audit log as other plugins (the admin API's diff view) read it. */
export interface AuditService {
  /** Entries matching the filter, newest first unless `order: "asc"`; pending entries are written first. */
  query(filter?: AuditFilter): Promise<AuditPage>;
  /** Recomputes the hash chain. */
  verify(): Promise<AuditVerdict>;
  /** Writes pending entries now. */
  flush(): Promise<void>;
  /** Entries written and transactions committed since start, and entries waiting. */
  stats(): { written: number; transactions: number; pending: number };
}

declare module "../../mod.ts" {
  interface Services {
    audit: AuditService;
  }
}

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

export default definePlugin<Options>({
  name: "audit",
  setup(ctx) {
    const o = ctx.options;
    const path = isAbsolute(o.path) ? o.path : join(ctx.dataDir, o.path);
    const log = new AuditLog(path, { hash: o.hash, synchronous: o.synchronous });
    const wanted = new Set(o.events);
    let timer: ReturnType<typeof setTimeout> | undefined;

    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      try {
        log.flush();
      } catch (e) {
        // The batch stays pending; the next flush retries it.
        ctx.log.error(`cannot write ${log.pending} audit entries to ${path}`, { error: e });
      }
    };
    const record = (r: Omit<AuditRecord, "ts">) => {
      if (!wanted.has(r.kind)) return;
      log.append({ ts: Date.now(), ...r });
      if (log.pending >= o.maxBatch) flush();
      else timer ??= setTimeout(flush, o.flushMs);
    };
    const from = (c?: ClientInfo) => c && { remote: c.remote, protocol: c.protocol, clientId: c.clientId };

    ctx.hooks.on("adminAction", (e) => {
      record({
        kind: "admin",
        user: e.principal.id,
        action: e.action,
        object: e.object,
        remote: e.remote,
        before: e.before,
        after: e.after,
      });
    });
    ctx.hooks.on("authenticated", ({ client, principal }) => {
      const detail = { listener: client.listener, certificateSubject: client.certificateSubject };
      record({
        kind: "login",
        user: principal.id,
        action: "login.success",
        object: client.clientId,
        detail,
        ...from(client),
      });
    });
    ctx.hooks.on("authFailed", ({ client, code, reason }) => {
      record({
        kind: "login_failed",
        user: client.username ?? "",
        action: "login.failure",
        object: client.clientId,
        detail: { code, reason, listener: client.listener },
        ...from(client),
      });
    });
    ctx.hooks.on("accessDenied", (e) => {
      record({
        kind: "access_denied",
        user: e.principal.id,
        action: `acl.${e.action}`,
        object: e.destination,
        detail: { kind: e.kind, code: e.code, reason: e.reason },
        ...from(e.client),
      });
    });
    ctx.hooks.on("connected", ({ client, principal }) => {
      record({
        kind: "connect",
        user: principal?.id,
        action: "client.connect",
        object: client.clientId,
        ...from(client),
      });
    });
    ctx.hooks.on("disconnected", ({ client, principal, reason }) => {
      record({
        kind: "disconnect",
        user: principal?.id,
        action: "client.disconnect",
        object: client.clientId,
        detail: { reason },
        ...from(client),
      });
    });

    const prune = () => {
      if (o.retentionDays <= 0) return;
      try {
        const done = log.prune(Date.now() - o.retentionDays * DAY_MS);
        if (!done) return;
        ctx.log.info(`removed ${done.removed} audit entries older than ${o.retentionDays} days`);
        record({ kind: "audit", user: "$broker", action: "audit.prune", object: path, detail: done });
      } catch (e) {
        ctx.log.error("cannot remove old audit entries", { error: e });
      }
    };
    prune();
    const pruner = setInterval(prune, PRUNE_EVERY_MS);
    Deno.unrefTimer(pruner);

    const service: AuditService = {
      query(filter) {
        flush();
        return Promise.resolve(log.query(filter));
      },
      verify() {
        flush();
        return Promise.resolve(log.verify());
      },
      flush() {
        flush();
        return Promise.resolve();
      },
      stats: () => ({ written: log.written, transactions: log.transactions, pending: log.pending }),
    };
    ctx.provide("audit", service);
    const http = ctx.tryUse("http");
    http?.mount(o.httpPath, auditRoute(http, service, { path: o.httpPath, destination: o.adminDestination }));
    ctx.log.info(`audit log at ${path} (${o.hash} chain, retention ${o.retentionDays || "unlimited"} days)`);

    return () => {
      clearInterval(pruner);
      flush();
      log.close();
    };
  },
});
