/**
 * Starts this broker in a child process for a wire benchmark, so the load generator does not share
 * its event loop; resolves with the listener ports once it is up.
 *
 * @module
 */
import type { PluginEntry } from "../../mod.ts";

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
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/ports .*\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the broker did not start");
    text += value;
  }
  reader.releaseLock();
  return {
    ports: JSON.parse(/ports (.*)\n/.exec(text)![1]),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}
