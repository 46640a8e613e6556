/**
 * Ends the session and goes to the login page.
 *
 * @module
 */
/// <reference lib="dom" />
import { api } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";

export default function LogoutButton() {
  const t = useT();
  return (
    <button
      type="button"
      class="btn btn-ghost"
      onClick={async () => {
        // Whatever the API answers, the reader wanted out: the login page is where they go.
        await api("/logout", { method: "POST" }).catch(() => {});
        location.assign("/login");
      }}
    >
      {t("user.logout")}
    </button>
  );
}
