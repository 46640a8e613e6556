/**
 * Marks an interactive component for hydration: the server renders it inside a `data-island` element
 * carrying its props, and client.ts hydrates that element with `islands/<Name>.js`.
 *
 * @module
 */
import type { FunctionComponent } from "preact";

/** Renders `component` now and names it for the browser; `props` must survive JSON. */
export function Island<P extends object>(
  { component: Component, props }: { component: FunctionComponent<P>; props: P },
) {
  return (
    <div class="island" data-island={Component.name} data-props={JSON.stringify(props)}>
      <Component {...props} />
    </div>
  );
}
