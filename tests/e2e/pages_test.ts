/// <reference lib="dom" />
/**
 * The operator's other pages with real traffic: connections with their producers and consumers (and
 * closing one), the live topology graph, plugins, the log tail with a level switch, settings, and bridges
 * to a running peer and to a closed port.
 */
import assert from "node:assert/strict";
import type { BridgeStatus } from "../../plugins/bridge/mod.ts";
import { amqp, bridge, freePort } from "../helpers/bridge.ts";
import { startBroker } from "../helpers/broker.ts";
import { waitFor } from "../helpers/wait.ts";
import { logIn, open, screenshot, unlabelled, withConsole } from "./helpers.ts";

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

Deno.test("pages: bridges show their state, counters and forward rules", browserTest, async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
  const extra = [
    // The peer refuses the second rule's address (a "$" name): the page shows why.
    bridge(
      peer.ports["amqp:tcp"],
      { forward: [{ from: "queue://orders" }, { from: "queue://audit", to: "queue://$nope" }] },
      "east",
    ),
    bridge(freePort(), { forward: [{ from: "topic://t.>" }] }, "down"),
  ];
  try {
    await withConsole({ extra }, async (page, cb) => {
      const errors: string[] = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await cb.tb.broker.publish({ kind: "queue", destination: "orders", body: "order 1" });
      await cb.tb.broker.publish({ kind: "queue", destination: "audit", body: "entry 1" });
      await logIn(page, cb.origin);
      // The page is server-rendered: open it once the bridge has connected, forwarded, and the other failed.
      await waitFor(async () => {
        const all: BridgeStatus[] = await (await page.request.get(`${cb.origin}/api/v1/admin/bridges`))
          .json();
        const [down, east] = all;
        return east?.forwarded === 1 && east.links[1].lastRefusal !== undefined &&
          down.lastError !== undefined;
      }, "the bridges to settle");
      await page.getByRole("link", { name: "Bridges" }).click();
      await page.waitForURL(`${cb.origin}/bridges`);
      const rows = page.getByRole("region", { name: "Bridges to peer brokers" }).locator("tbody > tr");
      const cells = (name: string) =>
        rows.filter({ hasText: name }).first().locator(":scope > td").allInnerTexts();
      const [name, peerCell, state, forwarded, pending, failures] = await cells("east");
      // The refused rule's message waits here for the peer to take it: one pending.
      assert.deepEqual([name, state, forwarded, pending, failures], ["east", "Connected", "1", "1", "0"]);
      assert.match(peerCell, /^127\.0\.0\.1:\d+ \(peer\)$/);
      const eastLinks = page.getByRole("region", { name: "Forward rules of east" });
      await eastLinks.getByText("queue://orders → orders").waitFor();
      const refused = await eastLinks.locator("tbody > tr", { hasText: "queue://audit" }).locator("td")
        .allInnerTexts();
      assert.deepEqual(refused.slice(1, 3), ["0", "1"]);
      assert.match(refused.at(-1)!, /^rejected: /);
      const down = await cells("down");
      assert.match(down[2], /Reconnecting/);
      assert.match(down[2], /Last error: /);
      assert.equal(down[3], "0");
      assert.deepEqual(await unlabelled(page), [], "/bridges");
      assert.deepEqual(errors, [], "no console errors");
      await screenshot(page, "bridges");
    });
  } finally {
    await peer.stop();
  }
});

Deno.test(
  "pages: a bridge added through the form connects to the peer and is removed",
  browserTest,
  async () => {
    const peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
    try {
      await withConsole({}, async (page, cb) => {
        await logIn(page, cb.origin);
        await open(page, cb.origin, "/bridges");
        const form = page.getByRole("region", { name: "Add a bridge" });
        // The browser asks for a rule's source; the bridge's schema refuses a bad one, shown at the rules.
        await form.getByLabel("Name").fill("west");
        await form.getByLabel("Peer host").fill("127.0.0.1");
        await form.getByLabel("Peer AMQP port").fill("5672");
        await form.getByRole("button", { name: "Add bridge" }).click();
        await form.getByText("Enter a source for every rule.").waitFor();
        await form.getByLabel("From (rule 1)").fill("queue://orders");
        await form.getByRole("button", { name: "Add a rule" }).click();
        await form.getByLabel("From (rule 2)").fill("orders");
        await form.getByRole("button", { name: "Add bridge" }).click();
        await form.locator("#bridge-forward-hint ~ .field-error", { hasText: /option "forward\.1\.from"/ })
          .waitFor();
        await form.getByRole("button", { name: "Remove rule 2" }).click();
        await form.getByLabel("Peer AMQP port").fill(String(peer.ports["amqp:tcp"]));
        await form.getByLabel("Password at the peer").fill("not-shown");
        await form.getByRole("button", { name: "Add bridge" }).click();
        await page.waitForLoadState("load");

        const table = page.getByRole("region", { name: "Bridges to peer brokers" });
        const row = table.locator("tbody > tr", { hasText: "west" }).first();
        await waitFor(async () => {
          await open(page, cb.origin, "/bridges");
          return (await row.locator(":scope > td").nth(2).innerText()) === "Connected";
        }, "the added bridge to show Connected");
        assert.deepEqual(await unlabelled(page), [], "/bridges with a runtime bridge");
        await screenshot(page, "bridges-added");

        await row.getByRole("button", { name: "Remove" }).click();
        const dialog = page.getByRole("dialog", { name: "Remove bridge west?" });
        await dialog.getByRole("button", { name: "Remove" }).click();
        // The page is read again once the bridge is gone.
        await page.getByText("No bridge is configured.").waitFor();
        assert.deepEqual(await (await page.request.get(`${cb.origin}/api/v1/admin/bridges`)).json(), []);
      });
    } finally {
      await peer.stop();
    }
  },
);
