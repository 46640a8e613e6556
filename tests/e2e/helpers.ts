/// <reference lib="dom" />
/**
 * What the browser tests share: a broker with the http and admin plugins (the console at `/`), Debian's
 * Chromium driven by playwright-core with a fresh profile, screenshots, the label check every page passes,
 * and WCAG contrast arithmetic.
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { PluginEntry } from "../../mod.ts";
import { startBroker, type TestBroker } from "../helpers/broker.ts";

export const USER = "operator";
export const PASSWORD = "e2e-password-1";
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const SCREENSHOTS = new URL("./screenshots/", import.meta.url);

/** A broker serving the console, and its origin. */
export interface ConsoleBroker {
  tb: TestBroker;
  origin: string;
}

/** Starts http + admin with `USER`/`PASSWORD` as the first admin; `admin` adds admin plugin options. */
export async function startConsole(
  opts: { admin?: Record<string, unknown>; extra?: PluginEntry[] } = {},
): Promise<ConsoleBroker> {
  const tb = await startBroker({
    plugins: [
      { use: "http", options: { port: 0, hostname: "127.0.0.1" } },
      ...(opts.extra ?? []),
      { use: "admin", options: { admin: { username: USER, password: PASSWORD }, ...opts.admin } },
    ],
  });
  return { tb, origin: `http://127.0.0.1:${tb.ports.http}` };
}

/** A headless Chromium with its own throw-away profile. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(
  opts: { colorScheme?: "light" | "dark"; locale?: string } = {},
): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "ferrymq-e2e-profile-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
    viewport: { width: 1280, height: 860 },
    colorScheme: opts.colorScheme ?? "light",
    locale: opts.locale ?? "en-US",
  });
  const page = context.pages()[0] ?? await context.newPage();
  // Script errors in the page fail the test that caused them, not a later one.
  const errors: Error[] = [];
  page.on("pageerror", (e) => errors.push(e));
  return {
    context,
    page,
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      if (errors.length) throw new Error(`errors in the page: ${errors.map((e) => e.message).join("; ")}`);
    },
  };
}

/** Runs `fn` with a fresh console broker and browser page, and closes both however `fn` ends. */
export async function withConsole(
  opts: Parameters<typeof startConsole>[0] & Parameters<typeof launchBrowser>[0],
  fn: (page: Page, cb: ConsoleBroker) => Promise<void>,
): Promise<void> {
  const cb = await startConsole(opts);
  const b = await launchBrowser(opts);
  try {
    await fn(b.page, cb);
  } finally {
    await b.close();
    await cb.tb.stop();
  }
}

/** Opens `path` and waits until every island on it is hydrated (interactive). */
export async function open(page: Page, origin: string, path: string): Promise<void> {
  await page.goto(origin + path);
  await page.waitForSelector("html[data-hydrated]");
}

/** Logs in through the form and lands on the dashboard. */
export async function logIn(page: Page, origin: string): Promise<void> {
  await open(page, origin, "/login");
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${origin}/`);
  await page.waitForSelector("html[data-hydrated]");
}

/** Saves a full-page screenshot as tests/e2e/screenshots/<name>.png (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
}

/** WCAG 2 contrast ratio of two sRGB colours given as [r, g, b] 0-255. */
export function contrastRatio(a: number[], b: number[]): number {
  const lum = (c: number[]) => {
    const [r, g, bl] = c.map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Controls without a label, buttons and links without a name, images without alt, in the page. */
export function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    const visible = (el: Element) =>
      (el as HTMLElement).offsetParent !== null || el.closest("dialog") !== null;
    const byIds = (ids: string | null) =>
      (ids ?? "").split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? "").join(" ").trim();
    for (const el of document.querySelectorAll<HTMLInputElement>("input, select, textarea")) {
      if (el.type === "hidden" || !visible(el)) continue;
      const label = Array.from(el.labels ?? [], (l) => l.textContent ?? "").join(" ").trim() ||
        el.getAttribute("aria-label") || byIds(el.getAttribute("aria-labelledby"));
      if (!label) bad.push(`control ${el.outerHTML.slice(0, 100)}`);
    }
    for (const el of document.querySelectorAll<HTMLElement>("button, a[href]")) {
      const name = el.textContent?.trim() || el.getAttribute("aria-label") || el.getAttribute("title");
      if (!name) bad.push(`button/link ${el.outerHTML.slice(0, 100)}`);
    }
    for (const img of document.querySelectorAll("img")) {
      if (!img.hasAttribute("alt")) bad.push(`img ${img.outerHTML.slice(0, 100)}`);
    }
    if (document.querySelectorAll("h1").length !== 1) bad.push("not exactly one h1");
    if (!document.documentElement.lang) bad.push("no lang on <html>");
    if (!document.querySelector("main")) bad.push("no main landmark");
    return bad;
  });
}
