/**
 * Switches between English and Simplified Chinese: keeps the choice in a cookie and reloads, so the
 * server renders every string, tables included, in the new language.
 *
 * @module
 */
/// <reference lib="dom" />
import { type Language, LANGUAGE_NAMES, LANGUAGES } from "../lib/i18n.ts";
import { LANG_COOKIE, prefCookie } from "../lib/prefs.ts";

/** Saves `lang` and renders the page again in it. */
export function switchLanguage(lang: Language): void {
  document.cookie = prefCookie(LANG_COOKIE, lang);
  location.reload();
}

export default function LanguageSwitch({ lang }: { lang: Language }) {
  const other = LANGUAGES.find((l) => l !== lang)!;
  return (
    <button
      type="button"
      class="btn btn-ghost lang-switch"
      lang={other}
      data-testid="language-switch"
      onClick={() => switchLanguage(other)}
    >
      <svg aria-hidden="true" viewBox="0 0 24 24" width="16" height="16">
        <path
          d="M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18Zm0 0c2.5 2.6 3.7 5.6 3.7 9s-1.2 6.4-3.7 9m0-18C9.5 5.6 8.3 8.6 8.3 12s1.2 6.4 3.7 9M3.5 9h17M3.5 15h17"
          fill="none"
          stroke="currentColor"
          stroke-width="1.5"
        />
      </svg>
      {LANGUAGE_NAMES[other]}
    </button>
  );
}
