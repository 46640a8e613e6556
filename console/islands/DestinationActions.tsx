/**
 * Purge and delete for one destination, each confirmed in a dialog; the outcome is said in the page.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { Alert } from "../components/Alert.tsx";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { api } from "../lib/api.ts";
import { announceMessagesChanged } from "../lib/events.ts";
import { useT } from "../lib/i18n.ts";
import { describeError } from "../lib/problem.ts";
import { destinationPath } from "../lib/types.ts";

export default function DestinationActions({ kind, name }: { kind: string; name: string }) {
  const t = useT();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ kind: "success" | "error"; text: string } | null>(null);
  const path = destinationPath(kind, name);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setResult(null);
    try {
      await action();
    } catch (err) {
      setResult({ kind: "error", text: describeError(t, err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="actions-with-result">
      <div class="actions">
        <ConfirmButton
          id="purge"
          label={t("actions.purge")}
          title={t("actions.purgeTitle", { name })}
          message={t("actions.purgeMessage")}
          confirmLabel={t("actions.purge")}
          cancelLabel={t("common.cancel")}
          disabled={busy}
          onConfirm={() =>
            run(async () => {
              const { purged } = await api<{ purged: number }>(`${path}/purge`, { method: "POST" });
              setResult({ kind: "success", text: t("actions.purged", { count: purged }) });
              announceMessagesChanged();
            })}
        />
        <ConfirmButton
          id="delete"
          label={t("actions.delete")}
          title={t("actions.deleteTitle", { name })}
          message={t("actions.deleteMessage")}
          confirmLabel={t("actions.delete")}
          cancelLabel={t("common.cancel")}
          disabled={busy}
          onConfirm={() =>
            run(async () => {
              await api(path, { method: "DELETE" });
              location.assign(`/destinations?deleted=${encodeURIComponent(name)}`);
            })}
        />
      </div>
      {result && <Alert kind={result.kind}>{result.text}</Alert>}
    </div>
  );
}
