/**
 * Sends a test message to the destination: body, properties as a JSON object, priority, persistence
 * and time to live, each checked before anything is sent.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { Alert } from "../components/Alert.tsx";
import { Field, fieldAria } from "../components/Field.tsx";
import { api } from "../lib/api.ts";
import { announceMessagesChanged } from "../lib/events.ts";
import { type T, useT } from "../lib/i18n.ts";
import { describeError, errorField } from "../lib/problem.ts";
import { destinationPath } from "../lib/types.ts";

const FIELDS = ["body", "properties", "priority", "ttlMs"] as const;
type FieldName = typeof FIELDS[number];
type Errors = Partial<Record<FieldName | "form", string>>;

/** The request body, or the errors that keep it from being sent. */
function parse(t: T, form: FormData): { body?: Record<string, unknown>; errors: Errors } {
  const errors: Errors = {};
  const body: Record<string, unknown> = {
    body: String(form.get("body") ?? ""),
    persistent: form.get("persistent") === "on",
  };
  const props = String(form.get("properties") ?? "").trim();
  if (props) {
    try {
      const v = JSON.parse(props);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
      body.properties = v;
    } catch {
      errors.properties = t("send.propertiesInvalid");
    }
  }
  const priority = String(form.get("priority") ?? "").trim();
  if (priority) {
    if (!/^\d$/.test(priority)) errors.priority = t("send.priorityInvalid");
    else body.priority = Number(priority);
  }
  const ttl = String(form.get("ttlMs") ?? "").trim();
  if (ttl) {
    if (!/^[1-9]\d*$/.test(ttl)) errors.ttlMs = t("send.ttlInvalid");
    else body.ttlMs = Number(ttl);
  }
  return Object.keys(errors).length ? { errors } : { body, errors };
}

export default function SendMessageForm({ kind, name }: { kind: string; name: string }) {
  const t = useT();
  const [errors, setErrors] = useState<Errors>({});
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(ev: Event) {
    ev.preventDefault();
    const formEl = ev.currentTarget as HTMLFormElement;
    const { body, errors: found } = parse(t, new FormData(formEl));
    setErrors(found);
    setSent(null);
    if (!body) {
      formEl.querySelector<HTMLElement>(`#send-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const { id } = await api<{ id: string }>(`${destinationPath(kind, name)}/messages`, {
        method: "POST",
        body,
      });
      setSent(id);
      announceMessagesChanged();
    } catch (err) {
      const field = errorField(err, FIELDS);
      setErrors({ [field ?? "form"]: describeError(t, err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="stack" onSubmit={submit} noValidate>
      {errors.form && <Alert kind="error">{errors.form}</Alert>}
      {sent && <Alert kind="success">{t("send.sent", { id: sent })}</Alert>}
      <Field id="send-body" label={t("send.body")} error={errors.body}>
        <textarea
          {...fieldAria("send-body", undefined, errors.body)}
          name="body"
          rows={4}
          spellcheck={false}
        />
      </Field>
      <Field
        id="send-properties"
        label={t("send.properties")}
        hint={t("send.propertiesHint")}
        error={errors.properties}
      >
        <textarea
          {...fieldAria("send-properties", t("send.propertiesHint"), errors.properties)}
          name="properties"
          rows={2}
          spellcheck={false}
          placeholder='{"color": "red"}'
        />
      </Field>
      <div class="row">
        <Field
          id="send-priority"
          label={t("send.priority")}
          hint={t("send.priorityHint")}
          error={errors.priority}
        >
          <input
            {...fieldAria("send-priority", t("send.priorityHint"), errors.priority)}
            name="priority"
            inputMode="numeric"
            placeholder="4"
          />
        </Field>
        <Field id="send-ttlMs" label={t("send.ttl")} hint={t("send.ttlHint")} error={errors.ttlMs}>
          <input
            {...fieldAria("send-ttlMs", t("send.ttlHint"), errors.ttlMs)}
            name="ttlMs"
            inputMode="numeric"
          />
        </Field>
      </div>
      <Field id="send-persistent" label={t("send.persistent")} inline>
        <input id="send-persistent" type="checkbox" name="persistent" defaultChecked />
      </Field>
      <div class="actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t("send.submit")}</button>
      </div>
    </form>
  );
}
