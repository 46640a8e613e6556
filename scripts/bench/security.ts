/**
 * `deno task bench security [messages]`: the cost of the auth plugin's authorize gate (ACL) per publish,
 * in process: one authenticated session publishes 64-byte messages to a topic with one subscriber, with
 * no auth plugin, then with the auth plugin (no rules, default allow), then with ten rules where the
 * matching one is last; then without auth and with the ten rules again, publishing round-robin to 5,000
 * topics, more than the ACL's answer cache holds (1,000), so the rules run on every publish. Each case runs
 * three times; the best run counts. Also times one login (scrypt and PBKDF2-SM3), the authenticate gate's
 * cost per connection.
 *
 * @module
 */
import { type Broker, createBroker, type PluginEntry, type Session } from "../../mod.ts";

const BODY = new Uint8Array(64);
// deno-lint-ignore no-console
const print = (s: string) => console.log(s);

const user = { username: "bench", password: "bench-pw", groups: ["producers"] };
const rules = [
  ...Array.from({ length: 9 }, (_, i) => ({ allow: true, pattern: `other${i}.>`, groups: ["producers"] })),
  { allow: true, pattern: "bench.>", groups: ["producers"] },
];
const noRules: PluginEntry[] = [{ use: "auth", options: { users: [user], acl: { default: "allow" } } }];
const withRules: PluginEntry[] = [{ use: "auth", options: { users: [user], acl: { rules } } }];
/** name, plugins, distinct destinations published to round-robin. */
const CASES: [string, PluginEntry[], number][] = [
  ["plugins off", [], 1],
  ["auth, no rules (default allow)", noRules, 1],
  ["auth, 10 rules, match on the 10th", withRules, 1],
  ["plugins off, 5,000 topics", [], 5000],
  ["auth, 10 rules, 5,000 topics", withRules, 5000],
];

/** One session as the bench user, through the authenticate gate. */
const signIn = (b: Broker) =>
  b.openSession({
    clientId: "bench",
    protocol: "bench",
    remote: "127.0.0.1:1",
    username: user.username,
    password: new TextEncoder().encode(user.password),
  }, { deliver() {} });

async function run(plugins: PluginEntry[], n: number, distinct: number): Promise<number> {
  const b = await createBroker({ plugins }, { printLogs: false });
  try {
    let got = 0, done!: () => void;
    const finished = new Promise<void>((r) => done = r);
    await b.subscribe({ kind: "topic", destination: "bench.>", ack: "auto", prefetch: Infinity }, () => {
      if (++got === n) done();
    });
    const s = await signIn(b) as Session;
    const names = Array.from({ length: distinct }, (_, i) => `bench.t${i}`);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) void s.publish({ destination: names[i % distinct], body: BODY });
    await finished;
    return n / (performance.now() - t0) * 1000;
  } finally {
    await b.stop();
  }
}

async function login(nationalCrypto: boolean): Promise<number> {
  const b = await createBroker({ plugins: [{ use: "auth", options: { users: [user], nationalCrypto } }] }, {
    printLogs: false,
  });
  try {
    const t0 = performance.now();
    const s = await signIn(b);
    if (!("principal" in s)) throw new Error("login failed");
    return performance.now() - t0;
  } finally {
    await b.stop();
  }
}

export async function main(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 300_000);
  print(`security: ${n} publishes of 64 B per run, one topic subscriber, best of 3`);
  const base = new Map<number, number>();
  for (const [name, plugins, distinct] of CASES) {
    let best = 0;
    for (let i = 0; i < 3; i++) best = Math.max(best, await run(plugins, n, distinct));
    if (!base.has(distinct)) base.set(distinct, best);
    print(
      `${name.padEnd(40)} ${Math.round(best).toLocaleString("en").padStart(12)} msgs/s  ${
        (best / base.get(distinct)!).toFixed(2)
      }x`,
    );
  }
  print(`login, scrypt (N=16384)                  ${(await login(false)).toFixed(1).padStart(12)} ms`);
  print(`login, PBKDF2-SM3 (10,000 iterations)    ${(await login(true)).toFixed(1).padStart(12)} ms`);
}
