/**
 * Whether the numbers next to it are live: a dot and a word, announced when it changes.
 *
 * @module
 */
import { useT } from "../lib/i18n.ts";
import type { LiveState } from "../lib/live.ts";

export function LiveBadge({ state }: { state: LiveState }) {
  const t = useT();
  return (
    <span class={`live-badge live-${state}`} role="status" data-testid="live-state">
      <span class="dot" aria-hidden="true" />
      {t(`live.${state}`)}
    </span>
  );
}
