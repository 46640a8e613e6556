/**
 * `deno task bench core`: in-process throughput of the core with 64-byte bodies.
 * - queue 1 producer -> 1 consumer (in memory)
 * - topic 1 -> 100 subscribers (deliveries/s)
 * - persistent queue through sqlite-store with group commit (confirmed msgs/s)
 *
 * @module
 */
import { createBroker, type Delivery, type Subscription } from "../../mod.ts";

const BODY = new Uint8Array(64);

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);

async function queueOneToOne(n: number): Promise<number> {
  const b = await createBroker({ plugins: [] }, { printLogs: false });
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const tags: number[] = [];
  const sub: Subscription = await b.subscribe(
    { kind: "queue", destination: "bench", prefetch: 1000 },
    (d: Delivery) => {
      tags.push(d.tag);
      if (tags.length === 500) {
        sub.ack(tags.splice(0));
        sub.credit(500);
      }
      if (++got === n) done();
    },
  );
  const t0 = performance.now();
  for (let i = 0; i < n; i++) void b.publish({ kind: "queue", destination: "bench", body: BODY });
  await finished;
  const ms = performance.now() - t0;
  await b.stop();
  return n / ms * 1000;
}

async function topicFanOut(n: number, subs: number): Promise<number> {
  const b = await createBroker({ plugins: [] }, { printLogs: false });
  let got = 0;
  const total = n * subs;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  for (let i = 0; i < subs; i++) {
    await b.subscribe({ kind: "topic", destination: "bench.>", ack: "auto", prefetch: Infinity }, () => {
      if (++got === total) done();
    });
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) void b.publish({ destination: "bench.fan", body: BODY });
  await finished;
  const ms = performance.now() - t0;
  await b.stop();
  return total / ms * 1000;
}

async function persistentQueue(n: number, window: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "ferrymq-bench-" });
  const b = await createBroker({
    node: { dataDir: dir },
    plugins: [{ use: "sqlite-store", options: { synchronous: "NORMAL" } }],
  }, { printLogs: false });
  let consumed = 0;
  await b.subscribe({ kind: "queue", destination: "pbench", prefetch: 1000 }, (d, s) => {
    s.ack([d.tag]);
    s.credit(1);
    consumed++;
  });
  const t0 = performance.now();
  let inFlight = 0, sent = 0, confirmed = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (inFlight < window && sent < n) {
        inFlight++;
        sent++;
        b.publish({ kind: "queue", destination: "pbench", body: BODY, persistent: true }).then(() => {
          inFlight--;
          if (++confirmed === n) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
  const ms = performance.now() - t0;
  await b.stop();
  await Deno.remove(dir, { recursive: true });
  print(`    (consumed ${consumed} of ${n} by the time the last publish was confirmed)`);
  return n / ms * 1000;
}

/** Runs the suite and prints msgs/s for each case. */
export async function main(_args: string[]): Promise<void> {
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  print(
    `core benchmark, ${
      new Date().toISOString()
    }, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`,
  );
  await queueOneToOne(50_000); // warm-up
  print(`queue 1 -> 1 (in memory):        ${fmt(await queueOneToOne(1_000_000))} msgs/s  (target 1,000,000)`);
  await topicFanOut(2_000, 100);
  print(
    `topic 1 -> 100 (deliveries):     ${
      fmt(await topicFanOut(30_000, 100))
    } deliveries/s  (target 3,000,000)`,
  );
  print(
    `persistent queue (sqlite, group commit, window 1000): ${
      fmt(await persistentQueue(200_000, 1000))
    } msgs/s confirmed  (target 100,000)`,
  );
}
