/// <reference lib="dom" />
/**
 * Basic accessibility of every console page in Chromium: each control has a label and each button or
 * link a name, the skip link and keyboard reach the main controls with a visible focus, dialogs work
 * from the keyboard, and the theme's key colour pairs meet WCAG AA contrast in light and dark.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { contrastRatio, logIn, open, screenshot, unlabelled, withConsole } from "./helpers.ts";

const browserTest = { sanitizeOps: false, sanitizeResources: false };

const PAGES = [
  "/",
  "/destinations",
  "/destinations/new",
  "/destinations/queue/a11y.queue",
  "/connections",
  "/topology",
  "/bridges",
  "/plugins",
  "/logs",
  "/settings",
];

/** Presses Tab until the focused element matches `test` (at most `max` times); returns what was passed. */
async function tabTo(page: Page, test: (name: string) => boolean, max = 40): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const name = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return "";
      const label = (el as HTMLInputElement).labels?.[0]?.textContent;
      return (label || el.getAttribute("aria-label") || el.textContent || el.tagName).trim();
    });
    seen.push(name);
    if (test(name)) return seen;
  }
  throw new Error(`Tab never reached the control; passed: ${seen.join(" | ")}`);
}

/** The focused element draws a visible outline (the :focus-visible style). */
function focusRingWidth(page: Page): Promise<number> {
  return page.evaluate(() => {
    const s = getComputedStyle(document.activeElement!);
    return s.outlineStyle === "none" ? 0 : parseFloat(s.outlineWidth);
  });
}

Deno.test(
  "accessibility: every control on every page has a label, every button and link a name",
  browserTest,
  async () => {
    await withConsole({}, async (page, cb) => {
      await cb.tb.broker.publish({ kind: "queue", destination: "a11y.queue", body: "x" });
      await open(page, cb.origin, "/login");
      assert.deepEqual(await unlabelled(page), [], "/login");
      await logIn(page, cb.origin);
      for (const path of PAGES) {
        await open(page, cb.origin, path);
        assert.deepEqual(await unlabelled(page), [], path);
      }
    });
  },
);

Deno.test(
  "accessibility: the keyboard reaches the main controls, with a visible focus",
  browserTest,
  async () => {
    await withConsole({}, async (page, cb) => {
      await cb.tb.broker.publish({ kind: "queue", destination: "a11y.queue", body: "x" });
      await logIn(page, cb.origin);

      // The skip link comes first and moves focus to the main content.
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to main content");
      assert.ok(await focusRingWidth(page) >= 2, "the skip link shows a focus ring");
      await page.keyboard.press("Enter");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "main");

      // From the top, Tab walks the navigation, the language switch and logout.
      await open(page, cb.origin, "/");
      const passed = await tabTo(page, (n) => n === "Log out");
      for (
        const name of [
          "Dashboard",
          "Destinations",
          "Connections",
          "Topology",
          "Bridges",
          "Plugins",
          "Logs",
          "Settings",
          "中文",
        ]
      ) {
        assert.ok(passed.includes(name), `Tab reaches "${name}" (passed: ${passed.join(" | ")})`);
      }
      assert.ok(await focusRingWidth(page) >= 2, "buttons show a focus ring");

      // A form works from the keyboard alone: Tab to the name, type, Enter creates the queue.
      await open(page, cb.origin, "/destinations/new");
      await tabTo(page, (n) => n === "Name");
      assert.ok(await focusRingWidth(page) >= 2, "inputs show a focus ring");
      await page.keyboard.type("keyboard.queue");
      const formControls = await tabTo(page, (n) => n === "Create");
      assert.ok(
        formControls.some((n) => n.startsWith("Queue")),
        `the kind radio is reachable: ${formControls}`,
      );
      assert.ok(formControls.includes("Maximum redeliveries"));
      await page.keyboard.press("Enter");
      await page.waitForURL(`${cb.origin}/destinations/queue/keyboard.queue`);
      await page.waitForSelector("html[data-hydrated]");

      // Destructive actions open a dialog that takes focus, and Escape closes it with nothing done.
      await tabTo(page, (n) => n === "Purge");
      await page.keyboard.press("Enter");
      await page.getByRole("dialog").waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel");
      await page.keyboard.press("Escape");
      await page.getByRole("dialog").waitFor({ state: "hidden" });
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Purge");
      // The selector and the send form are reachable too.
      const rest = await tabTo(page, (n) => n === "Send");
      assert.ok(rest.includes("Selector") && rest.includes("Body"), `passed: ${rest.join(" | ")}`);
    });
  },
);

/** Text/background pairs of the theme, as CSS variables: foreground first. */
const PAIRS: [string, string][] = [
  ["--text", "--bg"],
  ["--text", "--surface"],
  ["--text", "--surface-2"],
  ["--muted", "--bg"],
  ["--muted", "--surface"],
  ["--muted", "--surface-2"],
  ["--accent", "--surface"],
  ["--accent", "--bg"],
  ["--accent", "--info-bg"],
  ["--on-accent", "--accent"],
  ["--danger", "--surface"],
  ["--on-danger", "--danger"],
  ["--success", "--surface"],
  ["--success", "--success-bg"],
  ["--warn", "--surface"],
  ["--text", "--danger-bg"],
  ["--text", "--success-bg"],
  ["--text", "--info-bg"],
  ["--accent", "--producer"],
  ["--destination-line", "--destination"],
];

for (const scheme of ["light", "dark"] as const) {
  Deno.test(
    `accessibility: key colours meet WCAG AA contrast (4.5:1) in the ${scheme} theme`,
    browserTest,
    async () => {
      await withConsole({ colorScheme: scheme }, async (page, cb) => {
        await logIn(page, cb.origin);
        const colours = await page.evaluate((vars) => {
          const probe = document.createElement("span");
          document.body.append(probe);
          const out: Record<string, number[]> = {};
          for (const v of vars) {
            probe.style.color = `var(${v})`;
            out[v] = getComputedStyle(probe).color.match(/\d+(\.\d+)?/g)!.slice(0, 3).map(Number);
          }
          probe.remove();
          return out;
        }, [...new Set(PAIRS.flat())]);
        const low = PAIRS
          .map(([fg, bg]) => ({ fg, bg, ratio: contrastRatio(colours[fg], colours[bg]) }))
          .filter((p) => p.ratio < 4.5)
          .map((p) => `${p.fg} on ${p.bg}: ${p.ratio.toFixed(2)}`);
        assert.deepEqual(low, []);
        // And as rendered: the page's own text on its own background.
        const rendered = await page.evaluate(() => {
          const rgb = (s: string) => s.match(/\d+(\.\d+)?/g)!.slice(0, 3).map(Number);
          const html = getComputedStyle(document.documentElement);
          const h1 = getComputedStyle(document.querySelector("h1")!);
          return { fg: rgb(h1.color), bg: rgb(html.backgroundColor), scheme: html.colorScheme };
        });
        assert.ok(
          contrastRatio(rendered.fg, rendered.bg) >= 7,
          `heading contrast ${JSON.stringify(rendered)}`,
        );
        await screenshot(page, `dashboard-${scheme}`);
      });
    },
  );
}
