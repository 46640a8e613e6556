/**
 * The brokers the MQTT benchmark measures, each in its own process: this broker (`mqtt_peer.ts`), aedes
 * (`peers/aedes.ts`) on Node.js when `node` is installed and on Deno, and mosquitto when Debian's package
 * is installed. `cpus` pins a broker to those CPUs (`taskset -c`) when taskset is there.
 *
 * @module
 */

import { firstMatch } from "./spawn.ts";

/** A running broker under test. */
export interface Peer {
  readonly port: number;
  readonly pid: number;
  readonly version: string;
  /** Resident set size of the broker process, in bytes. */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts a broker; undefined when it is not installed here. */
export type PeerStarter = (cpus?: string) => Promise<Peer | undefined>;

const decoder = new TextDecoder();

async function rssOf(pid: number): Promise<number> {
  // `ps` rather than /proc: reading /proc needs --allow-all.
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)], stdout: "piped" })
    .output();
  return Number(decoder.decode(out.stdout).trim()) * 1024;
}

/** What `cmd args` prints, or undefined when it cannot run. */
async function outputOf(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return decoder.decode(out.stdout);
  } catch {
    return undefined;
  }
}

/** A port nobody listens on right now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

// The repository's deno.json maps the npm imports, wherever the benchmark is started from.
const ROOT = new URL("../../", import.meta.url).pathname;

/** `cmd args`, under `taskset -c cpus` when asked. */
function command(cmd: string, args: string[], cpus: string | undefined, stdout: "piped" | "null") {
  const [c, a] = cpus ? ["taskset", ["-c", cpus, cmd, ...args]] : [cmd, args];
  return new Deno.Command(c, { args: a, stdout, stderr: "inherit", cwd: ROOT }).spawn();
}

/** The running `child` as a peer; `cleanup` runs once it has exited. */
function peerOf(
  child: Deno.ChildProcess,
  port: number,
  version: string,
  cleanup: () => Promise<unknown>,
): Peer {
  return {
    port,
    pid: child.pid,
    version,
    rss: () => rssOf(child.pid),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await cleanup();
    },
  };
}

/** A broker that prints `port N` once it listens. */
async function startPrinting(cmd: string, args: string[], version: string, cpus?: string): Promise<Peer> {
  const child = command(cmd, args, cpus, "piped");
  const found = await firstMatch(child, /port (\d+)/, `${version} did not start`);
  return peerOf(child, Number(found[1]), version, () => child.stdout.cancel().catch(() => {}));
}

const here = (path: string) => new URL(path, import.meta.url).pathname;

async function manifest(): Promise<{ version: string; imports: Record<string, string> }> {
  return JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
}

/** This broker; `--persistent` adds the sqlite store (QoS >= 1 confirmed after the commit). */
export function ferry(extra: string[] = []): PeerStarter {
  return async (cpus) => {
    const version = `${(await manifest()).version}${extra.includes("--persistent") ? " (sqlite)" : ""}`;
    return startPrinting(Deno.execPath(), ["run", "-A", here("./mqtt_peer.ts"), ...extra], version, cpus);
  };
}

async function aedesVersion(): Promise<string> {
  return String((await manifest()).imports.aedes).split("@").pop()!;
}

/** aedes from npm with in-memory persistence, on Deno's Node.js compatibility layer. */
export const aedesOnDeno: PeerStarter = async (cpus) =>
  startPrinting(
    Deno.execPath(),
    ["run", "-A", here("./peers/aedes.ts")],
    `${await aedesVersion()} on Deno ${Deno.version.deno}`,
    cpus,
  );

let aedesBundle: string | undefined;

/**
 * aedes on Node.js, the runtime its users run it on: the same server bundled for Node with
 * `deno bundle` (from Deno's npm cache, so nothing is installed); undefined without `node`.
 */
export const aedesOnNode: PeerStarter = async (cpus) => {
  const nodeVersion = (await outputOf("node", ["--version"]))?.trim();
  if (!nodeVersion) return undefined;
  if (!aedesBundle) {
    const dir = await Deno.makeTempDir({ prefix: "ferrymq-bench-aedes-" });
    const out = `${dir}/aedes.mjs`;
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "node", "-o", out, here("./peers/aedes.ts")],
      stdout: "null",
      stderr: "inherit",
      cwd: ROOT,
    }).output();
    if (!built.success) throw new Error("deno bundle failed for aedes");
    aedesBundle = out;
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  }
  return startPrinting("node", [aedesBundle], `${await aedesVersion()} on Node.js ${nodeVersion}`, cpus);
};

const MOSQUITTO = "/usr/sbin/mosquitto";

/** mosquitto with an in-memory, unlimited-queue configuration; undefined when not installed. */
export const mosquitto: PeerStarter = async (cpus) => {
  const help = await outputOf(MOSQUITTO, ["-h"]);
  if (help === undefined) return undefined;
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "ferrymq-bench-mosquitto-" });
  const conf = `${dir}/mosquitto.conf`;
  await Deno.writeTextFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence false",
      "max_queued_messages 0",
      "max_inflight_messages 0",
      "set_tcp_nodelay true",
      "log_dest none",
    ].join("\n") + "\n",
  );
  const version = /mosquitto version (\S+)/.exec(help)?.[1] ?? "?";
  const child = command(MOSQUITTO, ["-c", conf], cpus, "null");
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return peerOf(child, port, version, () => Deno.remove(dir, { recursive: true }));
};
