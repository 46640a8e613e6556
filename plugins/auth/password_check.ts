/**
 * Password checks that cost the same whether the user name exists or not: an unknown name is checked
 * against a dummy hash of the kind and cost new passwords get, so response time does not tell which
 * names exist.
 *
 * @module
 */
import { hashPassword, type HashScheme, type User, verifyPassword } from "./users.ts";

/** Checks a password against a stored hash; {@linkcode verifyPassword} unless a test counts calls. */
export type Verify = (password: string, stored: string) => Promise<boolean>;

/** True when `user` exists and `password` is theirs. */
export type PasswordCheck = (user: User | undefined, password: string) => Promise<boolean>;

/** A check whose unknown-user path hashes as much as the known-user one (one dummy hash, made now). */
export async function passwordCheck(
  scheme: HashScheme,
  verify: Verify = verifyPassword,
): Promise<PasswordCheck> {
  // Of a random password nobody is told; an unknown user is refused even if one guessed it.
  const dummy = await hashPassword(crypto.randomUUID(), scheme);
  return async (user, password) => {
    const ok = await verify(password, user?.passwordHash ?? dummy);
    return user !== undefined && ok;
  };
}
