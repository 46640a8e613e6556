/**
 * Username and password, posted to the admin API. Wrong credentials, rate limiting and a missing first
 * admin are said in the form, next to what to do about them.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { Alert } from "../components/Alert.tsx";
import { Field, fieldAria } from "../components/Field.tsx";
import { apiBase } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";
import { ApiError, describeError } from "../lib/problem.ts";

export default function LoginForm({ next, reason }: { next: string; reason: string | null }) {
  const t = useT();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      // Not lib/api.ts: a 401 here is an answer to show, not a reason to come back to this page.
      const res = await fetch(`${apiBase()}/login`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
        credentials: "same-origin",
      });
      if (!res.ok) throw await ApiError.from(res);
      location.assign(next);
    } catch (err) {
      setError(describeError(t, err));
      setBusy(false);
    }
  }

  return (
    <form class="stack" onSubmit={submit}>
      {reason === "session_expired" && !error && <Alert kind="info">{t("login.expired")}</Alert>}
      {error && <Alert kind="error" id="login-error">{error}</Alert>}
      <Field id="username" label={t("login.username")}>
        <input
          {...fieldAria("username")}
          name="username"
          autocomplete="username"
          required
          autofocus
          aria-describedby={error ? "login-error" : undefined}
        />
      </Field>
      <Field id="password" label={t("login.password")}>
        <input
          {...fieldAria("password")}
          name="password"
          type="password"
          autocomplete="current-password"
          required
          aria-describedby={error ? "login-error" : undefined}
        />
      </Field>
      <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
        {busy ? t("login.busy") : t("login.submit")}
      </button>
    </form>
  );
}
