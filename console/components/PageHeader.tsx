/**
 * The heading row of a page: its title and the page's main actions.
 *
 * @module
 */
import type { ComponentChildren } from "preact";

export function PageHeader(
  { title, subtitle, children }: {
    title: string;
    subtitle?: ComponentChildren;
    children?: ComponentChildren;
  },
) {
  return (
    <div class="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p class="subtitle">{subtitle}</p>}
      </div>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}
