/**
 * Console users, kept in the store's "admin.users" key-value space with scrypt password hashes (the
 * auth plugin's format, so one hash tool serves both). The first admin comes from the plugin options or
 * the environment; there is no default password.
 *
 * @module
 */
import { BrokerError, type KeyValue, type Logger } from "../../mod.ts";
import { hashPassword, verifyPassword } from "../auth/users.ts";

/** A console user as stored: never a plain password. */
export interface AdminUser {
  readonly username: string;
  readonly passwordHash: string;
  readonly roles: readonly string[];
  readonly createdAt: number;
}

/** A user as the API shows it. */
export type PublicUser = Omit<AdminUser, "passwordHash">;

/** The first admin as configured. */
export interface FirstAdmin {
  username: string;
  password?: string;
  passwordHash?: string;
}

/** Shortest password the API accepts. */
export const MIN_PASSWORD = 8;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export const toPublic = ({ passwordHash: _, ...u }: AdminUser): PublicUser => u;

/** Console users and their passwords. */
export class AdminUsers {
  readonly #kv: KeyValue<AdminUser>;
  readonly #log: Logger;
  // Compared against when the user is unknown, so a wrong name costs as much as a wrong password.
  #decoy: Promise<string> | undefined;

  constructor(kv: KeyValue<AdminUser>, log: Logger) {
    this.#kv = kv;
    this.#log = log;
  }

  /** Creates the first admin when configured and absent; says how to configure one when none exists. */
  async bootstrap(first: FirstAdmin | undefined): Promise<void> {
    if (first && !(await this.#kv.get(first.username))) {
      const hash = first.passwordHash ??
        (first.password !== undefined ? await hashPassword(first.password) : undefined);
      if (hash === undefined) {
        this.#log.warn(`first admin "${first.username}" has neither password nor passwordHash: not created`);
      } else {
        await this.#kv.set(first.username, {
          username: first.username,
          passwordHash: hash,
          roles: ["admin"],
          createdAt: Date.now(),
        });
        this.#log.info(`created console user "${first.username}"`);
      }
    }
    if ((await this.list()).length === 0) {
      this.#log.warn(
        'no console user: nobody can log in. Set "admin": { "username", "password" } in the admin ' +
          "plugin's options in broker.json, or FERRYMQ_ADMIN_USER and FERRYMQ_ADMIN_PASSWORD.",
      );
    }
  }

  async list(): Promise<PublicUser[]> {
    const out: PublicUser[] = [];
    for await (const [, u] of this.#kv.entries()) out.push(toPublic(u));
    return out.sort((a, b) => a.username.localeCompare(b.username));
  }

  async get(username: string): Promise<PublicUser | undefined> {
    const u = await this.#kv.get(username);
    return u && toPublic(u);
  }

  /** The user when the password is right; undefined otherwise (unknown user included). */
  async verify(username: string, password: string): Promise<PublicUser | undefined> {
    const u = await this.#kv.get(username);
    if (!u) {
      this.#decoy ??= hashPassword("decoy password");
      await verifyPassword(password, await this.#decoy);
      return undefined;
    }
    return (await verifyPassword(password, u.passwordHash)) ? toPublic(u) : undefined;
  }

  async create(
    username: string,
    password: string,
    roles: readonly string[] = ["admin"],
  ): Promise<PublicUser> {
    if (!USERNAME.test(username)) {
      throw new BrokerError(
        "invalid_argument",
        `Cannot create user "${username}": use 1-64 letters, digits, ".", "_", "@" or "-"`,
      );
    }
    checkPassword(password);
    if (await this.#kv.get(username)) {
      throw new BrokerError("conflict", `Cannot create user "${username}": it exists`);
    }
    const u: AdminUser = {
      username,
      passwordHash: await hashPassword(password),
      roles,
      createdAt: Date.now(),
    };
    await this.#kv.set(username, u);
    return toPublic(u);
  }

  async setPassword(username: string, password: string): Promise<void> {
    checkPassword(password);
    const u = await this.#kv.get(username);
    if (!u) throw new BrokerError("not_found", `Cannot change the password of "${username}": no such user`);
    await this.#kv.set(username, { ...u, passwordHash: await hashPassword(password) });
  }

  async delete(username: string): Promise<PublicUser> {
    const u = await this.#kv.get(username);
    if (!u) throw new BrokerError("not_found", `Cannot delete user "${username}": no such user`);
    if ((await this.list()).length === 1) {
      throw new BrokerError("conflict", `Cannot delete user "${username}": it is the last console user`);
    }
    await this.#kv.delete(username);
    return toPublic(u);
  }
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) {
    throw new BrokerError(
      "invalid_argument",
      `Cannot set a password of ${password.length} characters: use at least ${MIN_PASSWORD}`,
    );
  }
}
