/**
 * A readable table: a caption for screen readers, right-aligned numbers, a scroll region that keyboard
 * users can reach, and an empty state instead of a bare header row.
 *
 * @module
 */
import { type ComponentChildren, Fragment } from "preact";
import { EmptyState } from "./EmptyState.tsx";

/** One column: its header and how a row shows in it (the row's `key` field by default). */
export interface Column<R> {
  key: string;
  label: string;
  numeric?: boolean;
  render?: (row: R) => ComponentChildren;
}

export function DataTable<R>(
  { caption, columns, rows, rowKey, empty, emptyHint, details }: {
    caption: string;
    columns: Column<R>[];
    rows: R[];
    rowKey: (row: R) => string;
    /** A row's expanded part, shown across the whole table under it; null when collapsed. */
    details?: (row: R) => ComponentChildren | null;
    /** Shown instead of the table when there are no rows. */
    empty: string;
    emptyHint?: ComponentChildren;
  },
) {
  if (rows.length === 0) return <EmptyState title={empty}>{emptyHint}</EmptyState>;
  return (
    <div class="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} scope="col" class={c.numeric ? "num" : undefined}>{c.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const extra = details?.(r);
            return (
              <Fragment key={rowKey(r)}>
                <tr>
                  {columns.map((c) => (
                    <td key={c.key} class={c.numeric ? "num" : undefined}>
                      {c.render ? c.render(r) : String((r as Record<string, unknown>)[c.key] ?? "–")}
                    </td>
                  ))}
                </tr>
                {extra && (
                  <tr class="details-row" id={`${rowKey(r)}-details`}>
                    <td colSpan={columns.length}>{extra}</td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
