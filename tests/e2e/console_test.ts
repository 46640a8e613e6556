/// <reference lib="dom" />
/**
 * The console in a real browser against the real admin plugin: login, the live dashboard, the
 * destination lifecycle (create with validation, send, browse with a selector, purge, delete), the
 * language switch, and an expired session or a rate-limited login sending the reader where they belong.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sqliteFault } from "../helpers/sqlite_fault.ts";
import { type ConsoleBroker, logIn, open, PASSWORD, screenshot, USER, withConsole } from "./helpers.ts";

// Playwright keeps a browser process and its pipes open across steps; each test closes them itself.
const browserTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "console: a wrong password is said in the form; the right one opens the dashboard",
  browserTest,
  async () => {
    await withConsole({}, async (page, cb) => {
      await open(page, cb.origin, "/");
      assert.match(page.url(), /\/login\?next=%2F$/, "a page without a session goes to the login page");
      await screenshot(page, "login");
      await page.getByLabel("Username").fill(USER);
      await page.getByLabel("Password").fill("not-the-password");
      await page.getByRole("button", { name: "Log in" }).click();
      const alert = page.getByRole("alert");
      await alert.waitFor();
      assert.equal(await alert.textContent(), "Wrong username or password.");
      assert.match(page.url(), /\/login/);
      await screenshot(page, "login-wrong-password");

      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL(`${cb.origin}/`);
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Dashboard");
    });
  },
);

/** Publishes to `queue` over the HTTP API until `stop` resolves (at most `max` messages). */
async function produce(cb: ConsoleBroker, queue: string, stop: Promise<void>, max = 5000): Promise<number> {
  let stopped = false;
  stop.then(() => stopped = true);
  let sent = 0;
  while (!stopped && sent < max) {
    const res = await fetch(`${cb.origin}/api/v1/queues/${queue}/messages`, {
      method: "POST",
      body: `m${sent}`,
    });
    await res.body?.cancel();
    assert.equal(res.status, 201);
    sent++;
  }
  return sent;
}

Deno.test("console: the dashboard follows a running producer live", browserTest, async () => {
  await withConsole({}, async (page, cb) => {
    await logIn(page, cb.origin);
    await page.getByTestId("live-state").filter({ hasText: "Live" }).waitFor();
    const count = async (id: string) =>
      Number((await page.getByTestId(id).locator(".stat-value").textContent())!.replace(/,/g, ""));
    const before = await count("stat-messages-in");

    let stopProducer!: () => void;
    const producer = produce(cb, "e2e.load", new Promise<void>((r) => stopProducer = r));
    try {
      // The SSE stats event (every second) moves the total and the rate; the destinations event fills
      // the TOP5 table and the pending bar chart.
      await page.waitForFunction(
        (min) =>
          Number(
            document.querySelector("[data-testid=stat-messages-in] .stat-value")!.textContent!.replace(
              /,/g,
              "",
            ),
          ) >= min,
        before + 20,
        { timeout: 15_000 },
      );
      await page.waitForFunction(
        () => !/Now: 0 enqueued/.test(document.querySelector("[data-testid=rate-summary]")!.textContent!),
        null,
        { timeout: 15_000 },
      );
      await page.locator("#top5-title + * a", { hasText: "e2e.load" }).waitFor({ timeout: 15_000 });
      await page.locator("#pending-title + figure canvas").waitFor();
    } finally {
      stopProducer();
    }
    const sent = await producer;
    assert.ok(sent >= 20, `the producer sent ${sent} messages`);
    assert.ok(await count("stat-pending") > 0);
    await screenshot(page, "dashboard-live");
  });
});

Deno.test(
  "console: create a queue (invalid values are explained), send, browse with a selector, purge, delete",
  browserTest,
  async () => {
    await withConsole({}, async (page, cb) => {
      await logIn(page, cb.origin);
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Destinations" })
        .click();
      await page.getByText("No destinations yet.").waitFor();
      await page.getByRole("link", { name: "New destination" }).click();
      await page.waitForSelector("html[data-hydrated]");

      // Invalid form values: each is said at its field, and nothing is created.
      await page.getByRole("button", { name: "Create" }).click();
      await page.getByText("Enter a name.").waitFor();
      assert.equal(await page.getByLabel("Name", { exact: true }).getAttribute("aria-invalid"), "true");
      await page.getByLabel("Name", { exact: true }).fill("orders.*");
      await page.getByLabel("Maximum redeliveries").fill("many");
      await page.getByRole("button", { name: "Create" }).click();
      await page.getByText("Enter a whole number, 0 or more.").waitFor();
      await page.getByLabel("Maximum redeliveries").fill("3");
      await page.getByLabel("Maximum length").fill("0");
      await page.getByRole("button", { name: "Create" }).click();
      await page.getByText("Enter a whole number, 1 or more.").waitFor();
      await page.getByLabel("Maximum length").fill("100");
      await page.getByRole("button", { name: "Create" }).click();
      const nameError = page.locator("#create-name-error");
      await nameError.waitFor();
      assert.match((await nameError.textContent())!, /^Invalid destination name\. .*wildcard/);
      await screenshot(page, "create-invalid");
      assert.equal(cb.tb.broker.destinations().length, 0);

      await page.getByLabel("Name", { exact: true }).fill("e2e.orders");
      await page.getByRole("button", { name: "Create" }).click();
      await page.waitForURL(`${cb.origin}/destinations/queue/e2e.orders`);
      await page.waitForSelector("html[data-hydrated]");
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "e2e.orders");
      await page.getByText("No pending messages.").waitFor();
      await page.getByText("At most 100; the oldest beyond go to the dead-letter queue").waitFor();
      assert.equal(cb.tb.broker.destinations().find((d) => d.name === "e2e.orders")?.maxLength, 100);

      // Limits: a bad value is explained at its field; an emptied field clears its limit.
      const limits = page.getByRole("form", { name: "Limits" });
      assert.equal(await limits.getByLabel("Maximum length").inputValue(), "100");
      await limits.getByLabel("Maximum length").fill("0");
      await limits.getByRole("button", { name: "Save limits" }).click();
      await limits.getByText("Enter a whole number, 1 or more.").waitFor();
      await limits.getByLabel("Maximum length").fill("50");
      await limits.getByLabel("Maximum redeliveries").fill("");
      await limits.getByRole("button", { name: "Save limits" }).click();
      await limits.getByText("Limits saved.").waitFor();
      const limited = cb.tb.broker.destinations().find((d) => d.name === "e2e.orders");
      assert.deepEqual([limited?.maxLength, limited?.maxRedeliveries], [50, undefined]);

      // Send: bad properties and priority first, then a good message.
      await page.getByLabel("Body").fill("hello from the console");
      await page.getByLabel("Properties (JSON object)").fill("color=red");
      await page.getByLabel("Priority").fill("12");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByText("Enter a JSON object", { exact: false }).waitFor();
      await page.getByText("Enter a whole number from 0 to 9.").waitFor();
      await page.getByLabel("Properties (JSON object)").fill('{"color": "red"}');
      await page.getByLabel("Priority").fill("7");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByText(/^Sent message /).waitFor();
      const pending = page.getByTestId("dest-pending").locator(".stat-value");
      await pending.filter({ hasText: /^1$/ }).waitFor();

      // Browse: the message is listed (and still pending: browsing does not consume).
      const table = page.getByRole("region", { name: "Pending messages" });
      const preview = table.locator(".body-preview", { hasText: "hello from the console" });
      await preview.waitFor();
      assert.equal(await page.getByTestId("browse-range").textContent(), "1–1 of 1");
      const selector = page.getByLabel("Selector");
      await selector.fill("color = 'blue'");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByText("No pending message matches the selector.").waitFor();
      await selector.fill("color = = 1");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.locator("#browse-selector-error", { hasText: "Invalid selector." }).waitFor();
      await selector.fill("color = 'red' AND JMSPriority > 5");
      await page.getByRole("button", { name: "Apply" }).click();
      await preview.waitFor();
      await preview.click();
      await table.getByText('"color": "red"').waitFor();
      await screenshot(page, "destination-browse");
      assert.equal(cb.tb.broker.destinations().find((d) => d.name === "e2e.orders")?.pending, 1);

      // Purge, confirmed in the dialog.
      await page.getByRole("button", { name: "Purge" }).click();
      const dialog = page.getByRole("dialog", { name: "Purge e2e.orders?" });
      await dialog.waitFor();
      await dialog.getByRole("button", { name: "Purge" }).click();
      await page.getByText("Purged 1 messages.").waitFor();
      await pending.filter({ hasText: /^0$/ }).waitFor();
      await page.getByText("No pending message matches the selector.").waitFor();
      assert.equal(cb.tb.broker.destinations().find((d) => d.name === "e2e.orders")?.pending, 0);

      // Delete goes back to the list, which says so.
      await page.getByRole("button", { name: "Delete" }).click();
      await page.getByRole("dialog", { name: "Delete e2e.orders?" }).getByRole("button", { name: "Delete" })
        .click();
      await page.waitForURL(/\/destinations\?deleted=e2e\.orders$/);
      await page.getByText("Deleted e2e.orders.").waitFor();
      assert.equal(cb.tb.broker.destinations().some((d) => d.name === "e2e.orders"), false);
    });
  },
);

Deno.test(
  "console: switching to 中文 renders every page in Chinese until switched back",
  browserTest,
  async () => {
    await withConsole({}, async (page, cb) => {
      await logIn(page, cb.origin);
      await page.getByTestId("language-switch").click();
      await page.waitForFunction(() => document.documentElement.lang === "zh-CN");
      await page.waitForSelector("html[data-hydrated]");
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "仪表盘");
      await page.getByText("入站消息").waitFor();
      await screenshot(page, "dashboard-zh-CN");

      // The choice is kept: other pages open in Chinese, islands included.
      await open(page, cb.origin, "/bridges");
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "桥接");
      await page.getByText("未配置桥接。").waitFor();
      await open(page, cb.origin, "/destinations/new");
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "新建目的地");
      await page.getByRole("button", { name: "创建" }).click();
      await page.getByText("请输入名称。").waitFor();

      await page.getByTestId("language-switch").click();
      await page.waitForFunction(() => document.documentElement.lang === "en");
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "New destination");
    });
  },
);

Deno.test("console: an expired session returns to the login page, which says why", browserTest, async () => {
  await withConsole({ admin: { sessionIdleMs: 1000 } }, async (page, cb) => {
    await open(page, cb.origin, "/login?next=%2Fdestinations%2Fnew");
    await page.getByLabel("Username").fill(USER);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${cb.origin}/destinations/new`);
    await page.waitForSelector("html[data-hydrated]");
    const idleFrom = Date.now();
    // Expiry is about time itself: let the idle timeout pass (this page makes no requests), then act.
    await page.waitForFunction((until) => Date.now() > until, idleFrom + 1200);
    await page.getByLabel("Name", { exact: true }).fill("late.queue");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/login\?/);
    await page.waitForSelector("html[data-hydrated]");
    await page.getByText("Your session has expired. Please log in again.").waitFor();
    assert.equal(new URL(page.url()).searchParams.get("next"), "/destinations/new");
    assert.equal(cb.tb.broker.destinations().length, 0, "nothing was created");
    await screenshot(page, "login-session-expired");
  });
});

Deno.test(
  "console: repeated wrong passwords are rate-limited with a clear message",
  browserTest,
  async () => {
    await withConsole({ admin: { loginMaxFailures: 2 } }, async (page, cb) => {
      await open(page, cb.origin, "/login");
      await page.getByLabel("Username").fill(USER);
      for (let i = 0; i < 2; i++) {
        await page.getByLabel("Password").fill(`wrong-${i}`);
        await page.getByRole("button", { name: "Log in" }).click();
        await page.getByRole("alert").filter({ hasText: "Wrong username or password." }).waitFor();
        // The next attempt starts from a clean form state.
        await page.getByRole("button", { name: "Log in" }).and(page.locator(":enabled")).waitFor();
      }
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("alert").filter({
        hasText: /^Too many failed attempts\. Try again in \d+ seconds\.$/,
      })
        .waitFor();
      assert.match(page.url(), /\/login$/);
    });
  },
);

Deno.test("console: the dashboard warns when the store fails writes", browserTest, async () => {
  await withConsole({ extra: [{ use: "sqlite-store" }] }, async (page, cb) => {
    const fault = sqliteFault(join(cb.tb.dataDir, "broker.db"));
    try {
      await cb.tb.broker.createQueue("e2e.store");
      fault.fail();
      await assert.rejects(
        cb.tb.broker.publish({ kind: "queue", destination: "e2e.store", body: "x", persistent: true }),
      );
      fault.heal();
      await logIn(page, cb.origin);
      const card = page.getByTestId("stat-pending");
      await card.getByText("1 store writes failed").waitFor();
      assert.match(await card.locator(".stat-value").getAttribute("class") ?? "", /tone-warn/);
    } finally {
      fault.close();
    }
  });
});
