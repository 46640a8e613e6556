/**
 * What the bridge tests share: the plugin entries (tests/helpers/bridge.ts), the status, queue depths and an
 * in-process consumer.
 *
 * @module
 */
import type { Delivery } from "../../../mod.ts";
import type { BridgeStatus } from "../../../plugins/bridge/mod.ts";
import type { TestBroker } from "../../helpers/broker.ts";
import { Collector } from "../../helpers/wait.ts";

export { amqp, bridge, freePort } from "../../helpers/bridge.ts";

/** A body as text: core bytes, an AMQP string, or an AMQP data section. */
export const text = (body: unknown): string =>
  typeof body === "string"
    ? body
    : new TextDecoder().decode((body as { content?: Uint8Array }).content ?? body as Uint8Array);

/** The status of bridge instance `id`. */
export const status = (tb: TestBroker, id = "bridge"): BridgeStatus =>
  tb.broker.host.service(`bridge:${id}`)!.status();

/** Messages ready in queue `name`. */
export const pending = (tb: TestBroker, name: string): number =>
  tb.broker.destinations().find((d) => d.kind === "queue" && d.name === name)?.pending ?? 0;

/** Collects what an in-process consumer gets, acking each. */
export async function collect(
  tb: TestBroker,
  kind: "queue" | "topic",
  destination: string,
): Promise<Collector<Delivery>> {
  const got = new Collector<Delivery>();
  await tb.broker.subscribe({ kind, destination }, (d, sub) => {
    got.push(d);
    sub.ack([d.tag]);
  });
  return got;
}
