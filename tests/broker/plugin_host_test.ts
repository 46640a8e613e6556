import assert from "node:assert/strict";
import { createBroker, type PluginEntry, type ServiceName } from "../../mod.ts";
import { resetLateListener } from "../fixtures/plugins/late-listener/control.ts";
import { events } from "../fixtures/plugins/record.ts";
import { within } from "../helpers/wait.ts";
import { instanceManifest } from "../../broker/plugin_host.ts";

const fixture = (name: string, extra: Partial<PluginEntry> = {}): PluginEntry => ({
  use: `./tests/fixtures/plugins/${name}`,
  ...extra,
});
/** Writes a plugin.json named `name` (entry mod.ts) with `extra` fields into `dir`. */
const writeManifest = (dir: string, name: string, extra: Record<string, unknown> = {}) =>
  Deno.writeTextFile(
    `${dir}/plugin.json`,
    JSON.stringify({
      name,
      version: "1.0.0",
      description: "test",
      entry: "mod.ts",
      broker: "^0.1",
      ...extra,
    }),
  );
const start = (plugins: PluginEntry[], limits = {}) =>
  createBroker({ plugins, limits }, { printLogs: false, baseDir: Deno.cwd() });

Deno.test("plugins are set up after the providers they require and torn down in reverse", async () => {
  events.length = 0;
  const b = await start([fixture("needs-a"), fixture("provider-a")]);
  await b.stop();
  assert.deepEqual(events, [
    "setup provider-a",
    "setup needs-a got object",
    "teardown needs-a",
    "teardown provider-a",
  ]);
});

Deno.test("an unmet requirement stops start-up naming the plugin and the field", async () => {
  await assert.rejects(start([fixture("needs-a")]), (e: Error & { code?: string }) => {
    assert.equal(e.code, "plugin_dependency");
    assert.match(e.message, /"needs-a"/);
    assert.match(e.message, /"requires" names "svc-a"/);
    return true;
  });
});

Deno.test("a requirement cycle stops start-up naming the plugins", async () => {
  events.length = 0;
  await assert.rejects(start([fixture("cycle-x"), fixture("cycle-y")]), (e: Error & { code?: string }) => {
    assert.equal(e.code, "plugin_dependency");
    assert.match(e.message, /cycle "cycle-x" -> "cycle-y" -> "cycle-x"/);
    return true;
  });
  assert.deepEqual(events, [], "no plugin was set up");
});

Deno.test("an option of the wrong type stops start-up naming the plugin and the option", async () => {
  await assert.rejects(
    start([fixture("typed-options", { options: { port: "80" } })]),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, "plugin_options");
      assert.match(e.message, /plugin "typed-options": option "port" must be integer/);
      return true;
    },
  );
  await assert.rejects(
    start([fixture("typed-options", { options: { prot: 1 } })]),
    /must NOT have additional properties "prot"/,
  );
});

Deno.test("options get their schema defaults", async () => {
  events.length = 0;
  const b = await start([fixture("typed-options", { options: { port: 1 } })]);
  await b.stop();
  assert.deepEqual(events, ["setup typed-options port=1 host=127.0.0.1"]);
});

Deno.test("an unknown plugin stops start-up with plugin_not_found", async () => {
  await assert.rejects(start([{ use: "no-such-plugin" }]), { code: "plugin_not_found" });
  await assert.rejects(start([{ use: "./nowhere/plugin.json" }]), { code: "plugin_not_found" });
});

Deno.test("a plugin that throws in setup tears down the ones already started; nothing half-starts", async () => {
  events.length = 0;
  await assert.rejects(start([fixture("provider-a"), fixture("throws")]), (e: Error & { code?: string }) => {
    assert.equal(e.code, "plugin_failed");
    assert.match(e.message, /"throws": boom/);
    return true;
  });
  assert.deepEqual(events, ["setup provider-a", "setup throws", "teardown provider-a"]);
});

Deno.test("a plugin that hangs in setup fails after the plugin timeout", async () => {
  await assert.rejects(
    start([fixture("hangs")], { pluginTimeoutMs: 50 }),
    /"hangs" did not finish setup within 50 ms/,
  );
});

Deno.test("a setup that finishes after the timeout is torn down then: its listener does not outlive start-up", async () => {
  const late = resetLateListener();
  await assert.rejects(
    start([fixture("late-listener")], { pluginTimeoutMs: 50 }),
    /"late-listener" did not finish setup within 50 ms/,
  );
  late.release.resolve();
  const port = await within(late.port.promise, 5000, "the late setup to listen");
  await within(late.closed.promise, 5000, "the host to tear the late setup down");
  // The port is free again.
  Deno.listen({ hostname: "127.0.0.1", port }).close();
});

Deno.test("a plugin in a folder whose path has a space, # and ? loads", async () => {
  const tmp = await Deno.makeTempDir();
  const dir = `${tmp}/my plugin #1?x`;
  try {
    await Deno.mkdir(dir);
    await writeManifest(dir, "odd-path");
    await Deno.writeTextFile(`${dir}/mod.ts`, `export default { name: "odd-path", setup() {} };`);
    const b = await start([{ use: dir }]);
    await b.stop();
    assert.deepEqual(b.plugins().map((p) => p.id), ["odd-path"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a bad broker manifest names the field", async () => {
  await assert.rejects(
    createBroker({ plugins: [{ use: 5 }] } as never, { printLogs: false }),
    (e: Error & { code?: string }) =>
      e.code === "manifest_invalid" && /field "plugins\.0\.use" must be string/.test(e.message),
  );
  await assert.rejects(
    createBroker({ plugins: [], limits: { maxMessageSize: "big" } } as never, { printLogs: false }),
    {
      code: "manifest_invalid",
    },
  );
});

Deno.test("two instances of one plugin need distinct as names", async () => {
  await assert.rejects(
    start([fixture("provider-a"), fixture("typed-options"), fixture("typed-options")]),
    /twice/,
  );
});

Deno.test("{id} in a provides name becomes the instance id, so two instances provide distinct services", () => {
  const m = { name: "p", version: "1.0.0", description: "", entry: "mod.ts", broker: "^0.1" };
  const twice = { ...m, provides: ["protocol:{id}", "store"] as ServiceName[] };
  assert.deepEqual(instanceManifest(twice, "east").provides, ["protocol:east", "store"]);
  assert.deepEqual(instanceManifest(twice, "west").provides, ["protocol:west", "store"]);
  const once = { ...m, provides: ["store"] as ServiceName[] };
  assert.equal(instanceManifest(once, "x"), once);
});

Deno.test("an after family (fam:*) sets the plugin up after every provider under the prefix; useAll gives them by name", async () => {
  events.length = 0;
  const b = await start([
    fixture("family-user"),
    fixture("family-member", { as: "one" }),
    fixture("typed-options"),
    fixture("family-member", { as: "two" }),
  ]);
  await b.stop();
  assert.deepEqual(events.slice(0, 3), [
    "setup one",
    "setup two",
    "setup family-user sees [fam:one=one,fam:two=two], one by name: one",
  ]);
});

Deno.test("an after family is optional: with no provider, useAll is empty", async () => {
  events.length = 0;
  const b = await start([fixture("family-user")]);
  await b.stop();
  assert.deepEqual(events, ["setup family-user sees [], one by name: undefined"]);
});

Deno.test("useAll refuses a prefix the manifest does not declare as a family in after", async () => {
  for (const prefix of ["other:", "fam"]) {
    await assert.rejects(
      start([fixture("family-user", { options: { prefix } })]),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "plugin_dependency");
        assert.match(e.message, new RegExp(`"family-user" cannot use every "${prefix}\\*"`));
        return true;
      },
    );
  }
});

Deno.test("a family (a name ending in *) is refused in requires: a required service must be named", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await writeManifest(tmp, "needs-all", { requires: ["fam:*"] });
    await assert.rejects(start([{ use: tmp }]), (e: Error & { code?: string }) => {
      assert.equal(e.code, "plugin_invalid");
      assert.match(e.message, /field "requires\.0" must match pattern/);
      return true;
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
