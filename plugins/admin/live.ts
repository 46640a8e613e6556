/**
 * `GET /events`: Server-Sent Events for the console: `stats` every second (the /stats object plus t),
 * `destinations` every two seconds, and each `log` record as it is written.
 *
 * @module
 */
import type { AdminContext, Routes } from "./api/context.ts";
import { listDestinations } from "./api/destinations.ts";
import { route } from "./api/schemas.ts";
import { logView } from "./api/system.ts";

const encoder = new TextEncoder();
const frame = (event: string, data: unknown) =>
  encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

/** Registers the SSE route; returns a function that ends every open stream (plugin teardown). */
export function liveRoutes(app: Routes, ac: AdminContext): () => void {
  const open = new Set<() => void>();
  app.openapi(
    route({
      method: "get",
      path: "/events",
      summary: "Live stats, destinations and log records (SSE)",
      ok: [200],
    }),
    (c) => {
      const session = c.get("session");
      let end = () => {};
      const body = new ReadableStream<Uint8Array>({
        start(ctl) {
          const send = (event: string, data: unknown) => {
            if (session.ended) return end();
            try {
              ctl.enqueue(frame(event, data));
            } catch {
              end();
            }
          };
          let tick = 0;
          const offSample = ac.sampler.onSample((p) => {
            send("stats", { ...ac.sampler.current(), t: p.t });
            if (tick++ % 2 === 0) send("destinations", listDestinations(ac.broker));
          });
          const offLog = ac.broker.logs.listen((r) => send("log", logView(r)));
          end = () => {
            offSample();
            offLog();
            open.delete(end);
            try {
              ctl.close();
            } catch { /* closed by the client already */ }
          };
          open.add(end);
          // The first frames at once, so a fresh page does not wait a second for numbers.
          ctl.enqueue(encoder.encode(": connected\n\n"));
          send("stats", { ...ac.sampler.current(), t: Date.now() });
          send("destinations", listDestinations(ac.broker));
        },
        cancel() {
          end();
        },
      });
      return new Response(body, {
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          "x-accel-buffering": "no",
        },
      });
    },
  );
  return () => {
    for (const end of [...open]) end();
  };
}
