/**
 * Removes a bridge added at runtime, after a confirmation; the page is then read again without it.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { api } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";
import { describeError } from "../lib/problem.ts";

export default function RemoveBridgeButton({ id }: { id: string }) {
  const t = useT();
  const [state, setState] = useState<{ error?: string; busy?: boolean }>({});
  return (
    <span class="cell-action">
      <ConfirmButton
        id={`remove-${id}`}
        label={t("bridges.remove")}
        title={t("bridges.removeTitle", { name: id })}
        message={t("bridges.removeMessage")}
        confirmLabel={t("bridges.remove")}
        cancelLabel={t("common.cancel")}
        disabled={state.busy}
        onConfirm={async () => {
          setState({ busy: true });
          try {
            await api(`/bridges/${encodeURIComponent(id)}`, { method: "DELETE" });
            location.assign("/bridges");
          } catch (err) {
            setState({ error: describeError(t, err) });
          }
        }}
      />
      {state.error && <span class="field-error" role="alert">{state.error}</span>}
    </span>
  );
}
