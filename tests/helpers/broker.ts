/**
 * Starts a broker for a test on free ports with a temporary data dir; `stop()` removes everything.
 *
 * @module
 */
import { type Broker, type BrokerManifest, createBroker, type PluginEntry } from "../../mod.ts";

/** A running test broker. */
export interface TestBroker {
  broker: Broker;
  /** Port of each registered listener, by listener name ("mqtt:tcp"). */
  ports: Record<string, number>;
  dataDir: string;
  /** Stops the broker; keeps the data dir when `keepData` (restart tests). */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/** Starts a broker with `plugins` (listeners should be given port 0) and returns its ports. */
export async function startBroker(
  opts: {
    plugins?: PluginEntry[];
    dataDir?: string;
    /** node.id; "test" unless given (tests with two brokers that must tell each other apart). */
    nodeId?: string;
    limits?: BrokerManifest["limits"];
    logLevel?: "debug" | "info" | "warn" | "error" | "silent";
  } = {},
): Promise<TestBroker> {
  const dataDir = opts.dataDir ?? await Deno.makeTempDir({ prefix: "ferrymq-test-" });
  const broker = await createBroker(
    { node: { id: opts.nodeId ?? "test", dataDir }, limits: opts.limits, plugins: opts.plugins ?? [] },
    { printLogs: Deno.env.get("FERRYMQ_TEST_LOGS") === "1", logLevel: opts.logLevel ?? "warn" },
  );
  const ports: Record<string, number> = {};
  for (const l of broker.listeners()) ports[l.name] = l.port;
  return {
    broker,
    ports,
    dataDir,
    async stop({ keepData = false } = {}) {
      await broker.stop();
      if (!keepData) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
