/**
 * The auth plugin: the `authenticate` gate (users with scrypt hashes from broker.json, a watched file
 * and the `auth` service; anonymous off, loopback-only or on; failed logins rate-limited per client
 * address) and the `authorize` gate (ACL rules, first match; reserved prefixes for admins only).
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import { type Action, definePlugin, type Principal, Priority, type Reject } from "../../mod.ts";
import { type AclRule, evaluate } from "./acl.ts";
import { toUsers, type User, type UserConfig, verifyPassword } from "./users.ts";

interface Options {
  users: UserConfig[];
  usersFile?: string;
  anonymous: "off" | "loopback" | "on";
  acl: { default: "allow" | "deny"; rules: AclRule[] };
  adminGroup: string;
  reservedPrefixes: string[];
  maxFailures: number;
  failureWindowMs: number;
}

/** Manages users at run time (the admin API uses it). */
export interface AuthService {
  addUser(u: UserConfig): Promise<void>;
  removeUser(username: string): boolean;
  list(): { username: string; groups: readonly string[] }[];
}

declare module "../../mod.ts" {
  interface Services {
    auth: AuthService;
  }
}

const ANONYMOUS: Principal = Object.freeze({ id: "anonymous", groups: [] });
const isLoopback = (remote: string) => /^(127\.|::1|\[::1\]|localhost)/.test(remote);

export default definePlugin<Options>({
  name: "auth",
  async setup(ctx) {
    const o = ctx.options;
    const fromOptions = await toUsers(o.users);
    let fromFile = new Map<string, User>();
    const added = new Map<string, User>();
    const lookup = (name: string) => added.get(name) ?? fromFile.get(name) ?? fromOptions.get(name);
    const failures = new Map<string, number[]>();

    const file = o.usersFile && (isAbsolute(o.usersFile) ? o.usersFile : join(ctx.dataDir, o.usersFile));
    const loadFile = async () => {
      if (!file) return;
      try {
        fromFile = await toUsers(JSON.parse(await Deno.readTextFile(file)));
        ctx.log.info(`loaded ${fromFile.size} users from ${file}`);
      } catch (e) {
        ctx.log.error(`cannot load users from ${file}; keeping the previous list`, { error: e });
      }
    };
    await loadFile();
    if (file) {
      const watcher = Deno.watchFs(file);
      ctx.signal.addEventListener("abort", () => watcher.close());
      (async () => {
        for await (const _ of watcher) await loadFile();
      })().catch(() => {/* watcher closed */});
    }
    if (o.anonymous !== "off") {
      ctx.log.warn(
        `anonymous access is ${
          o.anonymous === "loopback" ? "allowed from loopback addresses only" : "allowed"
        }`,
      );
    }

    const refuse = (remote: string, reason: string): Reject => {
      const now = Date.now();
      const list = (failures.get(remote) ?? []).filter((t) => now - t < o.failureWindowMs);
      list.push(now);
      failures.set(remote, list);
      return { code: "bad_credentials", reason };
    };

    ctx.hooks.on("authenticate", async ({ client }) => {
      const remote = client.remote.replace(/:\d+$/, "");
      const recent = (failures.get(remote) ?? []).filter((t) => Date.now() - t < o.failureWindowMs);
      if (recent.length >= o.maxFailures) {
        return { code: "bad_credentials", reason: "Too many failed logins from this address; try later" };
      }
      if (client.username === undefined || client.username === "") {
        if (o.anonymous === "on" || (o.anonymous === "loopback" && isLoopback(client.remote))) {
          return ANONYMOUS;
        }
        if (client.username === undefined) return refuse(remote, "Anonymous access is off");
      }
      const user = lookup(client.username ?? "");
      const password = new TextDecoder().decode(client.password ?? new Uint8Array());
      if (!user || !(await verifyPassword(password, user.passwordHash))) {
        return refuse(remote, "Unknown user or wrong password");
      }
      failures.delete(remote);
      return { id: user.username, groups: user.groups };
    }, { priority: Priority.AUTH });

    const reserved = (d: string) => o.reservedPrefixes.some((p) => d === p || d.startsWith(p + "."));
    const deny = (action: Action, d: string): Reject => ({
      code: "not_authorized",
      reason: `Not allowed to ${action} "${d}"`,
    });
    ctx.hooks.on("authorize", ({ principal, action, destination }) => {
      const admin = principal.groups?.includes(o.adminGroup) ?? false;
      if (principal.id !== "anonymous" && principal.id !== "$broker" && !lookup(principal.id)) {
        return { code: "not_authorized", reason: `User "${principal.id}" was removed` };
      }
      if (reserved(destination) && !admin) return deny(action, destination);
      const answer = evaluate(o.acl.rules, principal, action, destination);
      if (answer === undefined) return admin || o.acl.default === "allow" ? true : deny(action, destination);
      return answer ? true : deny(action, destination);
    }, { priority: Priority.AUTH });

    ctx.provide("auth", {
      async addUser(u) {
        const [user] = (await toUsers([u])).values();
        added.set(user.username, user);
      },
      removeUser(name) {
        const had = added.delete(name) || fromFile.delete(name) || fromOptions.delete(name);
        return had;
      },
      list: () => {
        const all = new Map([...fromOptions, ...fromFile, ...added]);
        return [...all.values()].map((u) => ({ username: u.username, groups: u.groups }));
      },
    });
  },
});
