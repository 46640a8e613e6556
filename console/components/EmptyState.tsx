/**
 * What a list shows when it has nothing in it: a short sentence and, where useful, what to do next.
 *
 * @module
 */
import type { ComponentChildren } from "preact";

export function EmptyState({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <svg aria-hidden="true" viewBox="0 0 24 24" width="28" height="28">
        <path d="M3 7h18M3 12h18M3 17h10" fill="none" stroke="currentColor" stroke-width="1.6" />
      </svg>
      <p class="empty-title">{title}</p>
      {children && <div class="empty-hint">{children}</div>}
    </div>
  );
}
