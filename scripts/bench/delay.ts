/**
 * `deno task bench delay [count] [spreadMs]`: schedules `count` (default 1,000,000) delayed messages
 * through the delay plugin and reports the schedule rate, heap per scheduled message, and firing
 * accuracy (lateness of each delivery against its deliverAt: p50, p99, max).
 *
 * @module
 */
import { createBroker } from "../../mod.ts";

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);

/** Runs the suite. */
export async function main(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 1_000_000);
  const spread = Number(args[1] ?? 5_000);
  const b = await createBroker({ plugins: [{ use: "delay" }] }, { printLogs: false });
  const lateness = new Float64Array(n);
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  await b.subscribe({ kind: "queue", destination: "bench.delay", ack: "auto", prefetch: Infinity }, (d) => {
    lateness[received] = Date.now() - d.message.deliverAt;
    if (++received === n) done();
  });
  const body = new Uint8Array(64);
  const heap0 = Deno.memoryUsage().heapUsed;
  // Leave room to schedule everything before the first is due (about 2 µs each on this machine).
  const lead = Math.max(2_000, n / 250);
  const start = Date.now() + lead;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const j = (i * 7919) % n; // out of order, as real traffic would be
    pending.push(
      b.publish({
        kind: "queue",
        destination: "bench.delay",
        body,
        deliverAt: start + Math.floor(j * spread / n),
      }),
    );
    if (pending.length === 10_000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const scheduleMs = performance.now() - t0;
  const heap1 = Deno.memoryUsage().heapUsed;
  const rss = Deno.memoryUsage().rss;
  if (Date.now() > start) {
    print(`warning: scheduling took longer than the ${lead} ms lead; lateness includes it`);
  }
  await finished;
  await b.stop();
  lateness.sort();
  const pct = (p: number) => lateness[Math.min(n - 1, Math.floor(n * p))];
  print(`delay: ${n.toLocaleString("en")} messages, 64-byte bodies, due over ${spread} ms`);
  print(`  schedule rate    ${(n / scheduleMs * 1000).toFixed(0)} msgs/s (${scheduleMs.toFixed(0)} ms)`);
  print(
    `  heap growth      ${((heap1 - heap0) / 1048576).toFixed(1)} MiB, ${
      ((heap1 - heap0) / n).toFixed(0)
    } bytes/message`,
  );
  print(`  rss              ${(rss / 1048576).toFixed(0)} MiB`);
  print(`  lateness         p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${lateness[n - 1]} ms`);
}
