/**
 * The auth plugin with two users and no rules, for tests of what belongs to whom: alice (password "a-pw")
 * and bob ("b-pw"), anonymous access off.
 *
 * @module
 */
export const ALICE_AND_BOB = {
  use: "auth",
  options: {
    anonymous: "off",
    users: [{ username: "alice", password: "a-pw" }, { username: "bob", password: "b-pw" }],
    acl: { default: "allow", rules: [] },
  },
};
