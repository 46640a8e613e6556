/**
 * What the HTTP plugin's tests share: the plugin entry, the API base URL, JSON requests and a
 * WebSocket client that collects frames.
 *
 * @module
 */
import type { TestBroker } from "../../helpers/broker.ts";
import { Collector, within } from "../../helpers/wait.ts";

/** The plugin on a free port, with short heart-beats and leases. */
export const http = {
  use: "http",
  options: { port: 0, hostname: "127.0.0.1", heartbeatMs: 200, consumerLeaseMs: 300 },
};

/** The messaging API's base URL. */
export const base = (tb: TestBroker): string => `http://127.0.0.1:${tb.ports.http}/api/v1`;

/** A POST with a JSON body. */
export const json = (body: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...extra },
  body: JSON.stringify(body),
});

/** A frame the server sent over the WebSocket API. */
export type Frame = Record<string, unknown>;

/** An open WebSocket on /api/v1/ws; `frames` collects what the server sends. */
export async function openSocket(
  tb: TestBroker,
): Promise<{ ws: WebSocket; frames: Collector<Frame>; send(f: unknown): void; close(): Promise<void> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${tb.ports.http}/api/v1/ws`);
  const frames = new Collector<Frame>();
  ws.onmessage = (e) => frames.push(JSON.parse(e.data));
  await within(new Promise((r) => ws.onopen = r), 5000, "ws open");
  return {
    ws,
    frames,
    send: (f) => ws.send(typeof f === "string" ? f : JSON.stringify(f)),
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
    },
  };
}
