/**
 * Adds a bridge to a peer broker: name, peer, credentials and at least one forward rule. The browser checks
 * only what it can (something entered, a port number); the bridge's own schema is the API's to apply, and
 * what it refuses is shown at the field it names.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { Alert } from "../components/Alert.tsx";
import { Field, fieldAria } from "../components/Field.tsx";
import { api } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";
import { describeError, errorField } from "../lib/problem.ts";

/** The API's names for the form's fields: the id and the bridge's options. */
const FIELDS = ["id", "host", "port", "username", "password", "forward"] as const;
type Errors = Partial<Record<(typeof FIELDS)[number] | "form", string>>;

const text = (form: FormData, name: string): string => String(form.get(name) ?? "").trim();

export default function AddBridgeForm() {
  const t = useT();
  // Rule keys, so removing one keeps the others' typed values in place.
  const [rules, setRules] = useState<number[]>([0]);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  function validate(form: FormData): Errors {
    const e: Errors = {};
    if (!text(form, "id")) e.id = t("bridges.nameRequired");
    if (!text(form, "host")) e.host = t("bridges.hostRequired");
    const port = Number(text(form, "port"));
    if (!Number.isInteger(port) || port < 1 || port > 65535) e.port = t("bridges.portInvalid");
    if (rules.some((k) => !text(form, `from-${k}`))) e.forward = t("bridges.fromRequired");
    return e;
  }

  async function submit(ev: Event) {
    ev.preventDefault();
    const formEl = ev.currentTarget as HTMLFormElement;
    const form = new FormData(formEl);
    const found = validate(form);
    setErrors(found);
    const first = Object.keys(found)[0];
    if (first) {
      formEl.querySelector<HTMLElement>(`#bridge-${first === "forward" ? `from-${rules[0]}` : first}`)
        ?.focus();
      return;
    }
    const username = text(form, "username");
    const password = String(form.get("password") ?? "");
    setBusy(true);
    try {
      await api("/bridges", {
        method: "POST",
        body: {
          id: text(form, "id"),
          options: {
            host: text(form, "host"),
            port: Number(text(form, "port")),
            ...(username ? { username } : {}),
            ...(password ? { password } : {}),
            forward: rules.map((k) => {
              const to = text(form, `to-${k}`);
              return { from: text(form, `from-${k}`), ...(to ? { to } : {}) };
            }),
          },
        },
      });
      location.assign("/bridges");
    } catch (err) {
      const field = errorField(err, FIELDS, { conflict: "id" }) as keyof Errors | null;
      setErrors({ [field ?? "form"]: describeError(t, err) });
      if (field) {
        formEl.querySelector<HTMLElement>(`#bridge-${field === "forward" ? `from-${rules[0]}` : field}`)
          ?.focus();
      }
      setBusy(false);
    }
  }

  const input = (name: (typeof FIELDS)[number], label: string, hint?: string, attrs = {}) => (
    <Field id={`bridge-${name}`} label={label} hint={hint} error={errors[name]}>
      <input
        {...fieldAria(`bridge-${name}`, hint, errors[name])}
        name={name}
        autocomplete="off"
        spellcheck={false}
        {...attrs}
      />
    </Field>
  );

  return (
    <form class="stack" onSubmit={submit} noValidate>
      {errors.form && <Alert kind="error">{errors.form}</Alert>}
      {input("id", t("bridges.name"), t("bridges.nameHint"), { required: true })}
      <div class="row">
        {input("host", t("bridges.host"), undefined, { required: true })}
        {input("port", t("bridges.port"), undefined, { inputMode: "numeric", defaultValue: "5672" })}
      </div>
      <div class="row">
        {input("username", t("bridges.user"), t("bridges.userHint"))}
        {input("password", t("bridges.password"), undefined, {
          type: "password",
          autocomplete: "new-password",
        })}
      </div>
      <fieldset class="choice" aria-describedby="bridge-forward-hint">
        <legend>{t("bridges.rules")}</legend>
        <p class="field-hint" id="bridge-forward-hint">{t("bridges.rulesHint")}</p>
        {rules.map((k, i) => (
          <div class="row" key={k}>
            <Field id={`bridge-from-${k}`} label={t("bridges.from", { n: i + 1 })}>
              <input
                {...fieldAria(`bridge-from-${k}`, undefined, i === 0 ? errors.forward : undefined)}
                name={`from-${k}`}
                placeholder="queue://orders"
                autocomplete="off"
                spellcheck={false}
              />
            </Field>
            <Field id={`bridge-to-${k}`} label={t("bridges.to", { n: i + 1 })}>
              <input
                id={`bridge-to-${k}`}
                name={`to-${k}`}
                placeholder={t("bridges.toPlaceholder")}
                autocomplete="off"
                spellcheck={false}
              />
            </Field>
            {rules.length > 1 && (
              <button
                type="button"
                class="btn btn-ghost"
                onClick={() => setRules(rules.filter((x) => x !== k))}
              >
                {t("bridges.removeRule", { n: i + 1 })}
              </button>
            )}
          </div>
        ))}
        {errors.forward && <p class="field-error" id={`bridge-from-${rules[0]}-error`}>{errors.forward}</p>}
        <div>
          <button type="button" class="btn" onClick={() => setRules([...rules, Math.max(...rules) + 1])}>
            {t("bridges.addRule")}
          </button>
        </div>
      </fieldset>
      <div class="actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t("bridges.submit")}</button>
      </div>
    </form>
  );
}
