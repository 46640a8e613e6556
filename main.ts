/**
 * `deno task start`: runs the broker from broker.json (or `--config PATH`, or FERRYMQ_CONFIG) until
 * SIGINT or SIGTERM, then tears every plugin down in reverse order.
 *
 * @module
 */
import { createBroker } from "./mod.ts";
import { isBrokerError } from "./broker/errors.ts";
import { LogHub } from "./broker/log.ts";

function configPath(args: string[]): string {
  const i = args.findIndex((a) => a === "--config" || a.startsWith("--config="));
  if (i >= 0) return args[i].includes("=") ? args[i].slice("--config=".length) : args[i + 1];
  return Deno.env.get("FERRYMQ_CONFIG") ?? "broker.json";
}

if (import.meta.main) {
  const path = configPath(Deno.args);
  const log = new LogHub().get("main");
  try {
    const broker = await createBroker(path);
    log.info(`broker "${broker.nodeId}" running from ${path}`, {
      listeners: broker.listeners().map((l) => `${l.name} ${l.hostname}:${l.port}`),
    });
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      log.info("stopping");
      await broker.stop();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  } catch (e) {
    log.error(isBrokerError(e) ? `[${e.code}] ${e.message}` : `start-up failed: ${(e as Error)?.stack ?? e}`);
    Deno.exit(1);
  }
}
