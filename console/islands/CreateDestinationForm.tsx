/**
 * Creates a destination. Values are checked as you submit (a name, whole numbers for the queue limits);
 * what the API refuses (a bad name, one that exists) is shown at the field it concerns.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { Alert } from "../components/Alert.tsx";
import { Field, fieldAria } from "../components/Field.tsx";
import { LimitField, limitValid } from "../components/LimitField.tsx";
import { api } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";
import { describeError, errorField } from "../lib/problem.ts";
import { type Destination, type DestinationKind, destinationPath } from "../lib/types.ts";

/** A form field's value, trimmed ("" when absent). */
const text = (form: FormData, name: string): string => String(form.get(name) ?? "").trim();

type Errors = Partial<Record<"name" | "maxRedeliveries" | "maxLength" | "form", string>>;

export default function CreateDestinationForm({ kind: initialKind }: { kind: DestinationKind }) {
  const t = useT();
  const [kind, setKind] = useState<DestinationKind>(initialKind);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  function validate(form: FormData): Errors {
    const e: Errors = {};
    const name = text(form, "name");
    // What makes a name valid is the broker's to say; the API's answer is shown at this field.
    if (!name) e.name = t("create.nameRequired");
    for (const limit of ["maxRedeliveries", "maxLength"] as const) {
      if (!limitValid(limit, text(form, limit))) e[limit] = t(`create.${limit}Invalid`);
    }
    return e;
  }

  async function submit(ev: Event) {
    ev.preventDefault();
    const formEl = ev.currentTarget as HTMLFormElement;
    const form = new FormData(formEl);
    const found = validate(form);
    setErrors(found);
    if (Object.keys(found).length) {
      formEl.querySelector<HTMLElement>(`#create-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    const max = text(form, "maxRedeliveries");
    const length = text(form, "maxLength");
    setBusy(true);
    try {
      const d = await api<Destination>("/destinations", {
        method: "POST",
        body: {
          name: text(form, "name"),
          kind,
          durable: form.get("durable") === "on",
          ...(kind === "queue" && max ? { maxRedeliveries: Number(max) } : {}),
          ...(kind === "queue" && length ? { maxLength: Number(length) } : {}),
        },
      });
      location.assign(destinationPath(d.kind, d.name));
    } catch (err) {
      const field = errorField(err, ["name", "maxRedeliveries", "maxLength"], {
        invalid_destination: "name",
        conflict: "name",
      });
      setErrors({ [field ?? "form"]: describeError(t, err) });
      if (field) formEl.querySelector<HTMLElement>(`#create-${field}`)?.focus();
      setBusy(false);
    }
  }

  return (
    <form class="stack" onSubmit={submit} noValidate>
      {errors.form && <Alert kind="error">{errors.form}</Alert>}
      <Field id="create-name" label={t("create.name")} hint={t("create.nameHint")} error={errors.name}>
        <input
          {...fieldAria("create-name", t("create.nameHint"), errors.name)}
          name="name"
          required
          autocomplete="off"
          spellcheck={false}
        />
      </Field>
      <fieldset class="choice">
        <legend>{t("destinations.kind")}</legend>
        {(["queue", "topic"] as const).map((k) => (
          <label key={k} class="radio">
            <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
            <span>
              <strong>{t(`kind.${k}`)}</strong>
              <span class="muted">{t(`create.${k}Hint`)}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <Field id="create-durable" label={t("create.durable")} inline>
        <input id="create-durable" type="checkbox" name="durable" defaultChecked />
      </Field>
      {kind === "queue" && (
        <LimitField prefix="create" name="maxRedeliveries" error={errors.maxRedeliveries} />
      )}
      {kind === "queue" && <LimitField prefix="create" name="maxLength" error={errors.maxLength} />}
      <div class="actions">
        <a class="btn btn-ghost" href="/destinations">{t("common.cancel")}</a>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t("create.submit")}</button>
      </div>
    </form>
  );
}
