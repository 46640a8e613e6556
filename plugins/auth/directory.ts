/**
 * Where users come from, highest precedence first: changes made through the `users` service (kept in
 * the store's "auth.users" space, removals too, so they survive a restart), the watched users file,
 * broker.json. One lookup answers over all three.
 *
 * @module
 */
import { BrokerError, type KeyValue } from "../../mod.ts";
import { type HashScheme, toUser, toUsers, type User, type UserConfig } from "./users.ts";

/** A user as the `users` service lists it: never a hash. */
export interface UserInfo {
  readonly username: string;
  readonly groups: readonly string[];
  /** Which source the current definition comes from. */
  readonly source: "options" | "file" | "api";
}

/** A change to an existing user; fields left out stay as they are. */
export interface UserChange {
  password?: string;
  passwordHash?: string;
  groups?: string[];
}

/** Manages users at run time (the admin API uses it). Callers emit their own `adminAction`. */
export interface UsersService {
  /** Adds a user; conflict when one of that name exists in any source. */
  add(u: UserConfig): Promise<UserInfo>;
  /** Changes password and/or groups; not_found when there is no such user. Open sessions see new groups. */
  update(username: string, change: UserChange): Promise<UserInfo>;
  /** Removes a user from every source; its open sessions end (a revocation: MQTT 5 says 0x87). */
  remove(username: string): Promise<boolean>;
  get(username: string): UserInfo | undefined;
  list(): UserInfo[];
  /** Failed logins since start, and per address within the failure window. */
  failedLogins(): { total: number; byAddress: Record<string, number> };
}

/** What the store keeps per user changed through the service; no user = removed. */
interface Stored {
  user?: User;
}

/** The three user sources and the one lookup over them. */
export class UserDirectory {
  readonly #options: Map<string, User>;
  #file = new Map<string, User>();
  readonly #api = new Map<string, User | undefined>();
  readonly #kv: KeyValue<Stored>;
  readonly #scheme: HashScheme;

  private constructor(options: Map<string, User>, kv: KeyValue<Stored>, scheme: HashScheme) {
    this.#options = options;
    this.#kv = kv;
    this.#scheme = scheme;
  }

  static async open(configured: readonly UserConfig[], kv: KeyValue<Stored>, scheme: HashScheme) {
    const d = new UserDirectory(await toUsers(configured, scheme), kv, scheme);
    for await (const [name, s] of kv.entries()) d.#api.set(name, s.user);
    return d;
  }

  /** Replaces the users read from the users file. */
  async setFile(list: readonly UserConfig[]): Promise<number> {
    this.#file = await toUsers(list, this.#scheme);
    return this.#file.size;
  }

  get(name: string): User | undefined {
    return this.#api.has(name) ? this.#api.get(name) : this.#file.get(name) ?? this.#options.get(name);
  }

  info(name: string): UserInfo | undefined {
    const u = this.get(name);
    if (!u) return undefined;
    const source = this.#api.has(name) ? "api" : this.#file.has(name) ? "file" : "options";
    return { username: u.username, groups: u.groups, source };
  }

  list(): UserInfo[] {
    const names = new Set([...this.#options.keys(), ...this.#file.keys(), ...this.#api.keys()]);
    return [...names].sort().flatMap((n) => this.info(n) ?? []);
  }

  async add(u: UserConfig): Promise<UserInfo> {
    if (this.get(u.username)) throw new BrokerError("conflict", `User "${u.username}" exists already`);
    await this.#put(await toUser(u, this.#scheme));
    return this.info(u.username)!;
  }

  async update(name: string, change: UserChange): Promise<UserInfo> {
    const old = this.get(name);
    if (!old) throw new BrokerError("not_found", `No user "${name}"`);
    const next = change.password === undefined && change.passwordHash === undefined
      ? { ...old, groups: change.groups ?? old.groups }
      : await toUser({ ...change, username: name, groups: change.groups ?? [...old.groups] }, this.#scheme);
    await this.#put(next);
    return this.info(name)!;
  }

  async remove(name: string): Promise<boolean> {
    if (!this.get(name)) return false;
    this.#api.set(name, undefined);
    await this.#kv.set(name, {});
    return true;
  }

  async #put(u: User): Promise<void> {
    this.#api.set(u.username, u);
    await this.#kv.set(u.username, { user: u });
  }
}
