/**
 * `deno task bench http`: publish requests/s with keep-alive (single messages and batches of 100) and
 * SSE deliveries/s, against this broker in its own process.
 *
 * @module
 */
import { spawnBroker } from "./spawn.ts";

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);

async function publishRate(base: string, n: number, concurrency: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < n) {
      const res = await fetch(`${base}/queues/bench/messages?persistent=false`, {
        method: "POST",
        body: "x".repeat(64),
      });
      await res.body?.cancel();
    }
  }));
  return n / (performance.now() - t0) * 1000;
}

async function batchRate(base: string, batches: number): Promise<number> {
  const body = JSON.stringify(
    Array.from({ length: 100 }, () => ({ body: "x".repeat(64), persistent: false })),
  );
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 4 }, async (_, w) => {
    for (let i = w; i < batches; i += 4) {
      const res = await fetch(`${base}/queues/bench/messages:batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await res.body?.cancel();
    }
  }));
  return batches * 100 / (performance.now() - t0) * 1000;
}

async function sseRate(base: string, n: number): Promise<number> {
  const ctrl = new AbortController();
  const res = await fetch(`${base}/topics/bench.sse/events`, { signal: ctrl.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("subscribed")) text += (await reader.read()).value ?? "";
  const body = JSON.stringify(
    Array.from({ length: 100 }, () => ({ body: "x".repeat(64), persistent: false })),
  );
  const t0 = performance.now();
  const sending = (async () => {
    for (let i = 0; i < n; i += 100) {
      const r = await fetch(`${base}/topics/bench.sse/messages:batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await r.body?.cancel();
    }
  })();
  let got = 0, rest = "";
  while (got < n) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    const end = rest.lastIndexOf("\n\n");
    if (end < 0) continue;
    got += (rest.slice(0, end).match(/event: message/g) ?? []).length;
    rest = rest.slice(end + 2);
  }
  const ms = performance.now() - t0;
  await sending;
  ctrl.abort();
  return n / ms * 1000;
}

/** Runs the suite. */
export async function main(_args: string[]): Promise<void> {
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  const broker = await spawnBroker([{ use: "http", options: { port: 0, hostname: "127.0.0.1" } }]);
  const base = `http://127.0.0.1:${broker.ports.http}/api/v1`;
  try {
    await publishRate(base, 2_000, 16);
    print(`http benchmark, ${new Date().toISOString()}, Deno ${Deno.version.deno}`);
    print(`publish, keep-alive, 16 in flight: ${fmt(await publishRate(base, 20_000, 16))} requests/s`);
    print(`batch of 100, 4 in flight:         ${fmt(await batchRate(base, 500))} msgs/s`);
    print(`SSE push:                           ${fmt(await sseRate(base, 50_000))} deliveries/s`);
  } finally {
    await broker.stop();
  }
}
