/**
 * Settings of this browser: language and theme.
 *
 * @module
 */
import { Island } from "../components/Island.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import SettingsForm from "../islands/SettingsForm.tsx";
import { definePage, titled } from "../lib/page.ts";

export default definePage({
  nav: "settings",
  title: titled("nav.settings"),
  render(_, { t, prefs, session }) {
    return (
      <>
        <PageHeader title={t("nav.settings")} subtitle={t("settings.subtitle")} />
        <div class="card narrow">
          <Island component={SettingsForm} props={{ prefs }} />
        </div>
        {session && (
          <p class="muted">
            {t("settings.account", {
              user: session.user.username,
              roles: session.user.roles.join(", ") || "–",
            })}
          </p>
        )}
      </>
    );
  },
});
