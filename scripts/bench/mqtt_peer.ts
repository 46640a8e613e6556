/**
 * Starts this broker for the MQTT benchmark in this process (in-memory unless `--persistent`; `--io=deno`
 * or `--io=epoll` picks the TCP layer, the plugin's default otherwise) and prints its port.
 *
 * @module
 */
import { createBroker } from "../../mod.ts";

const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-bench-" });
const io = Deno.args.find((a) => a.startsWith("--io="))?.slice(5);
const plugins = [{
  use: "mqtt",
  options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0, ...(io ? { io } : {}) },
}];
if (Deno.args.includes("--persistent")) {
  plugins.unshift({ use: "sqlite-store", options: { synchronous: "NORMAL" } } as never);
}
const broker = await createBroker({ node: { dataDir }, plugins }, { printLogs: false });
const port = broker.listeners().find((l) => l.name === "mqtt:tcp")!.port;
Deno.stdout.writeSync(new TextEncoder().encode(`port ${port}\n`));
Deno.addSignalListener("SIGTERM", async () => {
  await broker.stop();
  await Deno.remove(dataDir, { recursive: true });
  Deno.exit(0);
});
