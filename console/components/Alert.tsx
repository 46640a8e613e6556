/**
 * A message in the page: errors are announced at once (role=alert), success and info politely.
 *
 * @module
 */
import type { ComponentChildren } from "preact";

export function Alert(
  { kind, children, id }: { kind: "error" | "success" | "info"; children: ComponentChildren; id?: string },
) {
  return (
    <div id={id} class={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}
