/// <reference lib="dom" />
/**
 * The operator's other pages with real traffic: connections with their producers and consumers (and
 * closing one), the live topology graph, plugins, the log tail with a level switch, and settings.
 */
import assert from "node:assert/strict";
import { logIn, open, screenshot, withConsole } from "./helpers.ts";

const browserTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "pages: connections, topology, plugins, logs and settings show the broker's state",
  browserTest,
  async () => {
    await withConsole({}, async (page, cb) => {
      const api = `${cb.origin}/api/v1`;
      // A producer and a pull consumer over the HTTP API: one connection each side of "tour.jobs".
      const pub = await fetch(`${api}/queues/tour.jobs/messages`, { method: "POST", body: "job 1" });
      assert.equal(pub.status, 201);
      await pub.body?.cancel();
      const sub = await fetch(`${api}/queues/tour.jobs/consumers`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prefetch: 10 }),
      });
      assert.equal(sub.status, 201, await sub.clone().text());
      await sub.body?.cancel();

      await logIn(page, cb.origin);

      await open(page, cb.origin, "/topology");
      const graph = page.getByTestId("topology-graph");
      await graph.locator(".node-destination", { hasText: "tour.jobs" }).waitFor();
      assert.ok(await graph.locator(".node-producer").count() >= 1, "a producer node");
      assert.ok(await graph.locator(".edge").count() >= 1, "an edge into the destination");
      await screenshot(page, "topology");

      await open(page, cb.origin, "/connections");
      await page.getByRole("region", { name: "Consumers by destination" }).getByText("tour.jobs").waitFor();
      await page.getByRole("region", { name: "Producers by destination" }).getByText("tour.jobs").waitFor();
      await screenshot(page, "connections");
      const rows = page.getByRole("region", { name: "Client connections" }).locator("tbody tr");
      const before = await rows.count();
      assert.ok(before >= 1, "the HTTP clients are listed");
      await rows.first().getByRole("button", { name: "Close" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
      await rows.first().getByText("Closed").waitFor();

      await open(page, cb.origin, "/plugins");
      await page.getByRole("heading", { name: "admin", exact: true }).waitFor();
      await page.getByRole("heading", { name: "http", exact: true }).waitFor();
      await screenshot(page, "plugins");

      await open(page, cb.origin, "/logs");
      await page.getByTestId("live-state").filter({ hasText: "Live" }).waitFor();
      const level = page.getByLabel("admin", { exact: true });
      await level.selectOption("debug");
      await page.getByText("admin now logs at debug.").waitFor();
      const levels = await (await page.request.get(`${api}/admin/logs/levels`)).json();
      assert.equal(levels.admin, "debug");
      await screenshot(page, "logs");

      await open(page, cb.origin, "/settings");
      await page.getByLabel("Dark").check();
      await page.getByRole("button", { name: "Save" }).click();
      await page.waitForFunction(() => document.documentElement.dataset.theme === "dark");
      await page.waitForSelector("html[data-hydrated]");
      assert.equal(await page.getByLabel("Dark").isChecked(), true);
      await screenshot(page, "settings-dark");
    });
  },
);
