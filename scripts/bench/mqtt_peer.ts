/**
 * Starts one MQTT broker for the benchmark in this process and prints its port:
 * `ferrymq` (this broker, in-memory unless `--persistent`) or `aedes` (npm, in-memory).
 *
 * @module
 */
import { createServer } from "node:net";

const [kind] = Deno.args;
const say = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
if (kind === "aedes") {
  const { Aedes } = await import("aedes");
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  server.listen(0, "127.0.0.1", () => say(`port ${(server.address() as { port: number }).port}`));
} else {
  const { createBroker } = await import("../../mod.ts");
  const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-bench-" });
  const plugins = [{
    use: "mqtt",
    options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 },
  }];
  if (Deno.args.includes("--persistent")) {
    plugins.unshift({ use: "sqlite-store", options: { synchronous: "NORMAL" } } as never);
  }
  const broker = await createBroker({ node: { dataDir }, plugins }, { printLogs: false });
  say(`port ${broker.listeners().find((l) => l.name === "mqtt:tcp")!.port}`);
  Deno.addSignalListener("SIGTERM", async () => {
    await broker.stop();
    await Deno.remove(dataDir, { recursive: true });
    Deno.exit(0);
  });
}
