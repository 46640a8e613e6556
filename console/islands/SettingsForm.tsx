/**
 * The reader's preferences: language and theme, saved in cookies and applied by rendering the page
 * again (the server reads them, so nothing flashes in the old language or colours).
 *
 * @module
 */
/// <reference lib="dom" />
import { type Language, LANGUAGE_NAMES, LANGUAGES, useT } from "../lib/i18n.ts";
import { LANG_COOKIE, prefCookie, type Prefs, THEME_COOKIE, THEMES } from "../lib/prefs.ts";

export default function SettingsForm({ prefs }: { prefs: Prefs }) {
  const t = useT();
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        document.cookie = prefCookie(LANG_COOKIE, String(form.get("lang")));
        document.cookie = prefCookie(THEME_COOKIE, String(form.get("theme")));
        location.reload();
      }}
    >
      <fieldset class="choice">
        <legend>{t("settings.language")}</legend>
        {LANGUAGES.map((l: Language) => (
          <label key={l} class="radio" lang={l}>
            <input type="radio" name="lang" value={l} defaultChecked={prefs.lang === l} />
            <span>{LANGUAGE_NAMES[l]}</span>
          </label>
        ))}
      </fieldset>
      <fieldset class="choice">
        <legend>{t("settings.theme")}</legend>
        {THEMES.map((th) => (
          <label key={th} class="radio">
            <input type="radio" name="theme" value={th} defaultChecked={prefs.theme === th} />
            <span>{t(`settings.theme.${th}`)}</span>
          </label>
        ))}
      </fieldset>
      <div class="actions">
        <button type="submit" class="btn btn-primary">{t("settings.save")}</button>
      </div>
    </form>
  );
}
