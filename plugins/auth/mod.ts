/**
 * The auth plugin: the `authenticate` gate (users from broker.json, a watched file and the `users`
 * service, hashed with scrypt or PBKDF2-SM3; anonymous off, loopback-only or on; failed logins
 * rate-limited per client address; an unknown name costs a hash too) and the `authorize` gate (ACL
 * rules, first match; reserved prefixes for admins only; a user removed while connected is refused
 * and disconnected at the next check).
 * With `certificateIdentity`, a client that gives no password is the user its verified TLS client
 * certificate's CN names.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join } from "node:path";
import { type Action, definePlugin, hostOf, type Principal, Priority, type Reject } from "../../mod.ts";
import { type AclRule, compileRules, evaluate } from "./acl.ts";
import { commonName } from "./certificate.ts";
import { UserDirectory, type UsersService } from "./directory.ts";
import { passwordCheck } from "./password_check.ts";
import type { UserConfig } from "./users.ts";

export type { UserChange, UserInfo, UsersService } from "./directory.ts";

interface Options {
  users: UserConfig[];
  usersFile?: string;
  nationalCrypto: boolean;
  anonymous: "off" | "loopback" | "on";
  certificateIdentity: boolean;
  acl: { default: "allow" | "deny"; rules: AclRule[] };
  adminGroup: string;
  reservedPrefixes: string[];
  maxFailures: number;
  failureWindowMs: number;
}

declare module "../../mod.ts" {
  interface Services {
    users: UsersService;
  }
}

const ANONYMOUS: Principal = Object.freeze({ id: "anonymous", groups: [] });
const isLoopback = (remote: string) => /^(127\.|::1|\[::1\]|localhost)/.test(remote);
// Addresses whose failures are tracked at most; beyond it the oldest entries go (a spray of addresses).
const MAX_TRACKED = 10_000;
// Cached ACL answers per identity; an MQTT client publishing to ever new topics starts over past this.
const MAX_DECISIONS = 1000;

export default definePlugin<Options>({
  name: "auth",
  async setup(ctx) {
    const o = ctx.options;
    const scheme = o.nationalCrypto ? "pbkdf2-sm3" : "scrypt";
    const users = await UserDirectory.open(o.users, ctx.broker.store.kv("auth.users"), scheme);
    const checkPassword = await passwordCheck(scheme);
    // Principals this plugin issued: only these are checked for revocation (others come from other gates).
    const issued = new WeakSet<Principal>();
    /** Names this plugin let in: a removed one's open sessions are ended, subscribe-only ones included. */
    const issuedNames = new Set<string>();
    const endSessionsOfRemoved = async () => {
      const gone = [...issuedNames].filter((name) => !users.get(name));
      if (gone.length === 0) return;
      for (const name of gone) issuedNames.delete(name);
      for (const c of ctx.broker.connections()) {
        if (gone.includes(c.user)) {
          await ctx.broker.closeConnection(c.id, `User "${c.user}" was removed`, "revoked");
        }
      }
    };
    const failures = new Map<string, number[]>();
    let failedTotal = 0;

    const file = o.usersFile && (isAbsolute(o.usersFile) ? o.usersFile : join(ctx.dataDir, o.usersFile));
    const loadFile = async () => {
      if (!file) return;
      try {
        const n = await users.setFile(JSON.parse(await Deno.readTextFile(file)));
        ctx.log.info(`loaded ${n} users from ${file}`);
        await endSessionsOfRemoved();
      } catch (e) {
        ctx.log.error(`cannot load users from ${file}; keeping the previous list`, { error: e });
      }
    };
    await loadFile();
    if (file) {
      // The folder, not the file: editors replace files by renaming, which ends a watch on the file itself.
      const watcher = Deno.watchFs(dirname(file), { recursive: false });
      ctx.signal.addEventListener("abort", () => watcher.close());
      (async () => {
        for await (const e of watcher) {
          if (e.paths.some((p) => basename(p) === basename(file))) await loadFile();
        }
      })().catch(() => {/* watcher closed */});
    }
    ctx.log[o.anonymous === "off" ? "info" : "warn"](
      o.anonymous === "off"
        ? "anonymous access is off"
        : `anonymous access is ${
          o.anonymous === "loopback" ? "allowed from loopback addresses only" : "allowed"
        }`,
    );
    if (o.nationalCrypto) ctx.log.info("national-crypto profile: new passwords are hashed with PBKDF2-SM3");

    // A success clears nothing: failures from an address may be another client's (NAT, or an attacker
    // with an account of its own logging in between guesses); they expire with the window instead.
    const recent = (remote: string, now: number) =>
      (failures.get(remote) ?? []).filter((t) => now - t < o.failureWindowMs);
    const refuse = (remote: string, reason: string): Reject => {
      const now = Date.now();
      const list = recent(remote, now);
      list.push(now);
      failures.delete(remote); // re-insert: the map stays in least-recently-failed order
      failures.set(remote, list);
      if (failures.size > MAX_TRACKED) failures.delete(failures.keys().next().value!);
      failedTotal++;
      return { code: "bad_credentials", reason };
    };

    ctx.hooks.on("authenticate", async ({ client }) => {
      const remote = hostOf(client.remote);
      if (recent(remote, Date.now()).length >= o.maxFailures) {
        failedTotal++;
        return { code: "bad_credentials", reason: "Too many failed logins from this address; try later" };
      }
      // The listener only passes the subject of a certificate that verified against its CA.
      const cn = o.certificateIdentity && client.certificateSubject !== undefined && !client.password?.length
        ? commonName(client.certificateSubject)
        : undefined;
      if (cn !== undefined) {
        if (client.username && client.username !== cn) {
          return refuse(remote, `User "${client.username}" is not the certificate's CN "${cn}"`);
        }
        const user = users.get(cn);
        if (!user) return refuse(remote, `The client certificate's CN "${cn}" names no user`);
        const principal: Principal = {
          id: user.username,
          groups: user.groups,
          attributes: { certificateSubject: client.certificateSubject! },
        };
        issued.add(principal);
        issuedNames.add(principal.id);
        return principal;
      }
      if (client.username === undefined || client.username === "") {
        if (o.anonymous === "on" || (o.anonymous === "loopback" && isLoopback(client.remote))) {
          return ANONYMOUS;
        }
        if (client.username === undefined) return refuse(remote, "Anonymous access is off");
      }
      const user = users.get(client.username ?? "");
      const password = new TextDecoder().decode(client.password ?? new Uint8Array());
      // Checked before `user` is: an unknown name must hash as long as a known one.
      const ok = await checkPassword(user, password);
      if (!user || !ok) {
        return refuse(remote, "Unknown user or wrong password");
      }
      const principal: Principal = { id: user.username, groups: user.groups };
      issued.add(principal);
      issuedNames.add(principal.id);
      return principal;
    }, { priority: Priority.AUTH });

    const reserved = (d: string) => o.reservedPrefixes.some((p) => d === p || d.startsWith(p + "."));
    const deny = (action: Action, d: string): Reject => ({
      code: "not_authorized",
      reason: `Not allowed to ${action} "${d}"`,
    });
    const rules = compileRules(o.acl.rules);
    const decide = (p: Principal, action: Action, destination: string): true | Reject => {
      const admin = p.groups?.includes(o.adminGroup) ?? false;
      if (reserved(destination) && !admin) return deny(action, destination);
      const answer = evaluate(rules, p, action, destination);
      if (answer === undefined) return admin || o.acl.default === "allow" ? true : deny(action, destination);
      return answer ? true : deny(action, destination);
    };
    // Answers per identity and (action, destination): a producer repeats its destinations, so the rules
    // run once per pair. Keyed by the current User object, which a change replaces, so changes apply.
    const decisions = new WeakMap<object, Map<string, true | Reject>>();
    ctx.hooks.on("authorize", ({ principal, action, destination }) => {
      let p = principal, key: object = principal;
      if (issued.has(principal)) {
        const user = users.get(principal.id);
        if (!user) {
          return { code: "not_authorized", reason: `User "${principal.id}" was removed`, closeSession: true };
        }
        // Group changes apply to open sessions at once.
        if (user.groups !== principal.groups) p = { ...principal, groups: user.groups };
        key = user;
      }
      let known = decisions.get(key);
      if (!known) decisions.set(key, known = new Map());
      const k = `${action} ${destination}`;
      let answer = known.get(k);
      if (answer === undefined) {
        answer = decide(p, action, destination);
        if (known.size >= MAX_DECISIONS) known.clear();
        known.set(k, answer);
      }
      return answer;
    }, { priority: Priority.AUTH });

    ctx.provide("users", {
      add: (u) => users.add(u),
      update: (name, change) => users.update(name, change),
      remove: async (name) => {
        const removed = await users.remove(name);
        await endSessionsOfRemoved();
        return removed;
      },
      get: (name) => users.info(name),
      list: () => users.list(),
      failedLogins() {
        const now = Date.now();
        const byAddress: Record<string, number> = {};
        for (const a of failures.keys()) {
          const n = recent(a, now).length;
          if (n > 0) byAddress[a] = n;
        }
        return { total: failedTotal, byAddress };
      },
    });
  },
});
