/**
 * Message catalogs and the `t()` lookup, shared by server-rendered routes and hydrated islands. The server
 * picks the catalog from the language cookie (lib/prefs.ts); the page embeds it so islands translate the same way.
 *
 * @module
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import en from "../locales/en.json" with { type: "json" };

/** A message key; en.json is the reference catalog, the other catalogs must have the same keys. */
export type MessageKey = keyof typeof en;
/** A catalog: every key to its text; `{name}` marks a parameter. */
export type Catalog = Record<MessageKey, string>;
/** Languages the console speaks, in the order the switch offers them. */
export const LANGUAGES = ["en", "zh-CN"] as const;
export type Language = typeof LANGUAGES[number];
/** Each language named in itself, so a reader who cannot read the current one still finds theirs. */
export const LANGUAGE_NAMES: Record<Language, string> = { "en": "English", "zh-CN": "中文" };

/** The active catalog; the server and the island boot each provide it around what they render. */
export const I18n = createContext<Catalog>(en);

/** The `lang` cookie's value, or English when it names no known language. */
export function parseLanguage(value: string | undefined | null): Language {
  return (LANGUAGES as readonly string[]).includes(value ?? "") ? value as Language : "en";
}

/** Looks `key` up and fills in `{param}` placeholders; a missing key shows itself so it gets noticed. */
export function translate(
  catalog: Catalog,
  key: MessageKey,
  params?: Record<string, string | number>,
): string {
  const text = catalog[key] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (m, p) => p in params ? String(params[p]) : m) : text;
}

/** A translate function bound to a catalog. */
export type T = (key: MessageKey, params?: Record<string, string | number>) => string;

/** The translate function of the catalog in context. */
export function useT(): T {
  const catalog = useContext(I18n);
  return (key, params) => translate(catalog, key, params);
}
