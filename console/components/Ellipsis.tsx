/**
 * A long identifier cut to the column's width; the whole text stays in the tooltip and for screen
 * readers.
 *
 * @module
 */
export function Ellipsis({ text }: { text: string }) {
  return <span class="ellipsis" title={text}>{text}</span>;
}
