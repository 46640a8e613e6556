/**
 * Closes one client connection after a confirmation; the row then says it is closed.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { api } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";
import { describeError } from "../lib/problem.ts";

export default function CloseConnectionButton({ id, client }: { id: string; client: string }) {
  const t = useT();
  const [state, setState] = useState<{ closed?: boolean; error?: string; busy?: boolean }>({});
  if (state.closed) return <span class="muted" role="status">{t("connections.closed")}</span>;
  return (
    <span class="cell-action">
      <ConfirmButton
        id={`close-${id}`}
        label={t("connections.close")}
        title={t("connections.closeTitle", { client })}
        message={t("connections.closeMessage")}
        confirmLabel={t("connections.close")}
        cancelLabel={t("common.cancel")}
        disabled={state.busy}
        onConfirm={async () => {
          setState({ busy: true });
          try {
            await api(`/connections/${encodeURIComponent(id)}`, { method: "DELETE" });
            setState({ closed: true });
          } catch (err) {
            setState({ error: describeError(t, err) });
          }
        }}
      />
      {state.error && <span class="field-error" role="alert">{state.error}</span>}
    </span>
  );
}
