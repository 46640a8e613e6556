/**
 * The browser's entry: hydrates every `[data-island]` the server rendered with the island's module and
 * the page's message catalog. Islands load in parallel; a page without islands loads nothing else.
 *
 * @module
 */
/// <reference lib="dom" />
import { type FunctionComponent, h, hydrate } from "preact";
import { type Catalog, I18n } from "./lib/i18n.ts";

const catalog: Catalog = JSON.parse(document.getElementById("ferrymq-i18n")?.textContent ?? "{}");

async function boot(el: HTMLElement): Promise<void> {
  // A URL built at run time, so the bundler leaves it to the browser instead of resolving it.
  const url = new URL(`./islands/${el.dataset.island}.js`, import.meta.url).href;
  const mod: { default: FunctionComponent } = await import(url);
  const props = JSON.parse(el.dataset.props ?? "{}");
  hydrate(h(I18n.Provider, { value: catalog }, h(mod.default, props)), el);
  el.dataset.hydrated = "true";
}

await Promise.all(Array.from(document.querySelectorAll<HTMLElement>("[data-island]"), boot));
document.documentElement.dataset.hydrated = "true";
