/**
 * The admin API's live feed (`GET /events`, Server-Sent Events) for islands: one EventSource per page,
 * handlers per event type, and a signal telling whether the feed is up. When the feed drops because the
 * session ended, the reader goes to the login page.
 *
 * @module
 */
/// <reference lib="dom" />
import { type Signal, useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { apiBase, loginUrl } from "./api.ts";

/** Feed state shown next to live data. */
export type LiveState = "connecting" | "live" | "reconnecting";

type Handlers = Record<string, (data: unknown) => void>;

/** Subscribes to the live feed while the component is mounted. */
export function useLiveEvents(handlers: Handlers): Signal<LiveState> {
  const state = useSignal<LiveState>("connecting");
  // The latest handlers, so re-renders do not reopen the stream.
  const current = useRef(handlers);
  current.current = handlers;
  useEffect(() => {
    const source = new EventSource(`${apiBase()}/events`, { withCredentials: true });
    source.onopen = () => state.value = "live";
    source.onerror = async () => {
      state.value = "reconnecting";
      if (source.readyState !== EventSource.CLOSED) return;
      // The browser gives up on a non-200 answer; a 401 there means the session is gone.
      const res = await fetch(`${apiBase()}/session`, { credentials: "same-origin" }).catch(() => null);
      if (res?.status === 401) location.assign(loginUrl("session_expired"));
    };
    for (const type of Object.keys(current.current)) {
      source.addEventListener(type, (e: MessageEvent) => current.current[type]?.(JSON.parse(e.data)));
    }
    return () => source.close();
  }, []);
  return state;
}
