/**
 * The reader's preferences, language and theme, kept in cookies so the server renders the page in them
 * from the first byte (no flash of the wrong language or colours).
 *
 * @module
 */
import { type Language, parseLanguage } from "./i18n.ts";

export const LANG_COOKIE = "ferrymq_lang";
export const THEME_COOKIE = "ferrymq_theme";
/** "system" follows the operating system's light/dark setting. */
export const THEMES = ["system", "light", "dark"] as const;
export type Theme = typeof THEMES[number];

export interface Prefs {
  lang: Language;
  theme: Theme;
}

/** Reads the preferences from a `cookie` header (server) or `document.cookie` (browser). */
export function parsePrefs(cookieHeader: string | null): Prefs {
  const cookies = new Map<string, string>();
  for (const part of (cookieHeader ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) cookies.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
  }
  const theme = cookies.get(THEME_COOKIE) ?? "";
  return {
    lang: parseLanguage(cookies.get(LANG_COOKIE)),
    theme: (THEMES as readonly string[]).includes(theme) ? theme as Theme : "system",
  };
}

/** The `document.cookie` assignment that keeps one preference for a year. */
export function prefCookie(name: typeof LANG_COOKIE | typeof THEME_COOKIE, value: string): string {
  return `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=31536000; SameSite=Lax`;
}
