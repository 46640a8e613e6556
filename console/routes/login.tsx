/**
 * The login page. A reader who is already logged in goes straight on; one sent here by an expired
 * session is told so.
 *
 * @module
 */
import { Island } from "../components/Island.tsx";
import LoginForm from "../islands/LoginForm.tsx";
import { definePage, titled } from "../lib/page.ts";
import { ApiError } from "../lib/problem.ts";
import { safeNext } from "./_middleware.ts";

export default definePage<{ next: string; reason: string | null }>({
  public: true,
  title: titled("login.title"),
  async load({ api, url }) {
    const next = safeNext(url.searchParams.get("next"));
    try {
      await api.get("/session");
      return new Response(null, { status: 303, headers: { location: next } });
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
    }
    return { next, reason: url.searchParams.get("reason") };
  },
  render({ next, reason }, { t }) {
    return (
      <div class="login">
        <div class="login-brand">
          <img src="/static/favicon.svg" alt="" width="40" height="40" />
          <p class="login-name">FerryMQ</p>
        </div>
        <h1>{t("login.title")}</h1>
        <Island component={LoginForm} props={{ next, reason }} />
      </div>
    );
  },
});
