/**
 * Starts this broker in a child process for a wire benchmark, so the load generator does not share
 * its event loop; resolves with the listener ports once it is up.
 *
 * @module
 */
import type { PluginEntry } from "../../mod.ts";

/** Reads a child's output until `re` matches it; throws `what` if the output ends first. */
export async function firstMatch(
  child: Deno.ChildProcess,
  re: RegExp,
  what: string,
): Promise<RegExpExecArray> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (let m = re.exec(text);; m = re.exec(text)) {
    if (m) {
      reader.releaseLock();
      return m;
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(what);
    text += value;
  }
}

/** A broker in its own process. */
export interface SpawnedBroker {
  ports: Record<string, number>;
  stop(): Promise<void>;
}

/** Starts a broker with `plugins` (and a temporary data dir) in a child process. */
export async function spawnBroker(plugins: PluginEntry[]): Promise<SpawnedBroker> {
  const code = `
    import { createBroker } from "${new URL("../../mod.ts", import.meta.url).href}";
    const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-bench-" });
    const b = await createBroker({ node: { dataDir }, plugins: ${
    JSON.stringify(plugins)
  } }, { printLogs: false });
    console.log("ports " + JSON.stringify(Object.fromEntries(b.listeners().map((l) => [l.name, l.port]))));
    Deno.addSignalListener("SIGTERM", async () => {
      await b.stop();
      await Deno.remove(dataDir, { recursive: true });
      Deno.exit(0);
    });
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
    cwd: new URL("../../", import.meta.url).pathname,
  }).spawn();
  const line = await firstMatch(child, /ports (.*)\n/, "the broker did not start");
  return {
    ports: JSON.parse(line[1]),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}
