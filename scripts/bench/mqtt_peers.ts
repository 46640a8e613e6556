/**
 * The brokers the MQTT benchmark measures, each in its own process: this broker and aedes through
 * `mqtt_peer.ts`, and mosquitto when Debian's package is installed.
 *
 * @module
 */

import { firstMatch } from "./spawn.ts";

/** A running broker under test. */
export interface Peer {
  readonly port: number;
  readonly version: string;
  /** Resident set size of the broker process, in bytes. */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

async function rssOf(pid: number): Promise<number> {
  // `ps` rather than /proc: reading /proc needs --allow-all.
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)], stdout: "piped" })
    .output();
  return Number(new TextDecoder().decode(out.stdout).trim()) * 1024;
}

/** A port nobody listens on right now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function startChild(kind: string, extra: string[], version: string): Promise<Peer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./mqtt_peer.ts", import.meta.url).pathname, kind, ...extra],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const found = await firstMatch(child, /port (\d+)/, `${kind} did not start`);
  return {
    port: Number(found[1]),
    version,
    rss: () => rssOf(child.pid),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** This broker; `--persistent` adds the sqlite store (QoS >= 1 confirmed after the commit). */
export async function startFerry(extra: string[] = []): Promise<Peer> {
  const manifest = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  return startChild(
    "ferrymq",
    extra,
    `${manifest.version}${extra.includes("--persistent") ? " (sqlite)" : ""}`,
  );
}

/** aedes from npm, in-memory persistence, on Deno's Node compatibility layer. */
export async function startAedes(): Promise<Peer> {
  const manifest = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  return startChild("aedes", [], `${String(manifest.imports.aedes).split("@").pop()} (in-memory)`);
}

const MOSQUITTO = "/usr/sbin/mosquitto";

/** mosquitto on `port` with an in-memory, unlimited-queue configuration; undefined when not installed. */
export async function startMosquitto(port: number): Promise<Peer | undefined> {
  try {
    await Deno.stat(MOSQUITTO);
  } catch {
    return undefined;
  }
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
  const help = await new Deno.Command(MOSQUITTO, { args: ["-h"], stdout: "piped", stderr: "null" }).output();
  const version = /mosquitto version (\S+)/.exec(new TextDecoder().decode(help.stdout))?.[1] ?? "?";
  const child = new Deno.Command(MOSQUITTO, { args: ["-c", conf], stdout: "null", stderr: "inherit" })
    .spawn();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return {
    port,
    version,
    rss: () => rssOf(child.pid),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
