/**
 * Changes a queue's limits (maximum redeliveries, maximum length); an emptied field clears its limit.
 * Values are checked as you submit; what the API refuses is shown at the form.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { Alert } from "../components/Alert.tsx";
import { LimitField, type LimitName, limitValid } from "../components/LimitField.tsx";
import { api } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";
import { describeError } from "../lib/problem.ts";
import { type Destination, destinationPath } from "../lib/types.ts";

const LIMITS = ["maxRedeliveries", "maxLength"] as const;

export default function QueueLimitsForm({ name, maxRedeliveries, maxLength }: {
  name: string;
  maxRedeliveries?: number;
  maxLength?: number;
}) {
  const t = useT();
  const [current, setCurrent] = useState({ maxRedeliveries, maxLength });
  const [errors, setErrors] = useState<Partial<Record<LimitName, string>>>({});
  const [result, setResult] = useState<{ kind: "success" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(ev: Event) {
    ev.preventDefault();
    const formEl = ev.currentTarget as HTMLFormElement;
    const form = new FormData(formEl);
    const value = (limit: LimitName) => String(form.get(limit) ?? "").trim();
    const found: Partial<Record<LimitName, string>> = {};
    for (const limit of LIMITS) {
      if (!limitValid(limit, value(limit))) found[limit] = t(`create.${limit}Invalid`);
    }
    setErrors(found);
    setResult(null);
    const first = LIMITS.find((l) => found[l]);
    if (first) return formEl.querySelector<HTMLElement>(`#limits-${first}`)?.focus();
    setBusy(true);
    try {
      // An empty field is null: the API clears that limit.
      const body = Object.fromEntries(LIMITS.map((l) => [l, value(l) === "" ? null : Number(value(l))]));
      const d = await api<Destination>(destinationPath("queue", name), { method: "PATCH", body });
      setCurrent({ maxRedeliveries: d.maxRedeliveries, maxLength: d.maxLength });
      setResult({ kind: "success", text: t("limits.saved") });
    } catch (err) {
      setResult({ kind: "error", text: describeError(t, err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="stack" onSubmit={submit} noValidate aria-labelledby="limits-title">
      {result && <Alert kind={result.kind}>{result.text}</Alert>}
      {LIMITS.map((l) => (
        <LimitField
          key={l}
          prefix="limits"
          name={l}
          error={errors[l]}
          value={current[l]}
        />
      ))}
      <div class="actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t("limits.save")}</button>
      </div>
    </form>
  );
}
