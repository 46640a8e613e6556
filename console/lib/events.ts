/**
 * A page-wide signal between islands: something changed a destination's messages (sent, purged), so
 * whoever shows them reloads.
 *
 * @module
 */
/// <reference lib="dom" />

const MESSAGES_CHANGED = "ferrymq:messages-changed";

export function announceMessagesChanged(): void {
  dispatchEvent(new Event(MESSAGES_CHANGED));
}

/** Calls `fn` on every change; returns the unsubscribe. */
export function onMessagesChanged(fn: () => void): () => void {
  addEventListener(MESSAGES_CHANGED, fn);
  return () => removeEventListener(MESSAGES_CHANGED, fn);
}
