import assert from "node:assert/strict";
import { createBroker, type PluginEntry, type ServiceName } from "../../mod.ts";
import { resetLateListener } from "../fixtures/plugins/late-listener/control.ts";
import { events } from "../fixtures/plugins/record.ts";
import { within } from "../helpers/wait.ts";
import { instanceManifest } from "../../broker/plugin_host.ts";
import type {} from "../fixtures/plugins/runtime-member/mod.ts";

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

const member = (as: string, options: Record<string, unknown> = { label: as }) => ({
  use: "./tests/fixtures/plugins/runtime-member",
  as,
  options,
});
const rejectsWith = (p: Promise<unknown>, code: string, message: RegExp) =>
  assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });

Deno.test("a runtime instance is added with its options checked, provides its service, and is removed", async () => {
  events.length = 0;
  const b = await start([]);
  try {
    const info = await b.host.runtime.add(member("one", { label: "first" }));
    assert.equal(info.state, "running");
    assert.equal(info.runtime, true);
    assert.deepEqual(info.options, { label: "first", fail: false }, "defaults filled");
    assert.equal(b.host.service("rt:one")?.label, "first");
    assert.deepEqual(b.plugins().map((p) => [p.id, p.runtime]), [["one", true]]);
    assert.deepEqual(await b.store.kv("plugins.runtime").get("one"), member("one", { label: "first" }));

    await b.host.runtime.remove("one");
    assert.equal(b.host.service("rt:one"), undefined);
    assert.deepEqual(b.plugins(), []);
    assert.equal(await b.store.kv("plugins.runtime").get("one"), undefined);
    assert.deepEqual(events, ["setup one first", "teardown one"]);
    await rejectsWith(b.host.runtime.remove("one"), "not_found", /"one": no such instance/);
  } finally {
    await b.stop();
  }
});

Deno.test("a runtime add is refused for bad options, a bad or taken id, a non-runtime plugin, unmet requires", async () => {
  const b = await start([fixture("provider-a")]);
  try {
    await rejectsWith(
      b.host.runtime.add(member("one", {})),
      "plugin_options",
      /"one": option "\(options\)" must have required property 'label'/,
    );
    await rejectsWith(
      b.host.runtime.add(member("one", { label: 1 })),
      "plugin_options",
      /option "label" must be string/,
    );
    await rejectsWith(
      b.host.runtime.add(member("One")),
      "invalid_argument",
      /"One": its id must be lowercase/,
    );
    await rejectsWith(
      b.host.runtime.add(member("provider-a")),
      "conflict",
      /"provider-a": an instance of that id runs/,
    );
    await rejectsWith(
      b.host.runtime.add({ use: "./tests/fixtures/plugins/provider-a", as: "a2" }),
      "plugin_invalid",
      /"a2": "provider-a" is not a runtime plugin/,
    );
    await rejectsWith(
      b.host.runtime.add({ use: "./tests/fixtures/plugins/needs-member", as: "user" }),
      "plugin_dependency",
      /"user": field "requires" names "rt:one", which no running plugin provides/,
    );
    await rejectsWith(
      b.host.runtime.add(member("bad", { label: "x", fail: true })),
      "plugin_failed",
      /"bad": told to fail/,
    );
    assert.equal(b.host.service("rt:bad"), undefined, "a failed setup's services are released");
    assert.deepEqual(b.plugins().map((p) => p.id), ["provider-a"]);
    assert.deepEqual(await Array.fromAsync(b.store.kv("plugins.runtime").entries()), [], "nothing recorded");
  } finally {
    await b.stop();
  }
});

Deno.test("a runtime remove is refused for a broker.json instance and one a running plugin requires", async () => {
  events.length = 0;
  const b = await start([fixture("provider-a")]);
  try {
    await rejectsWith(
      b.host.runtime.remove("provider-a"),
      "conflict",
      /"provider-a": it comes from broker\.json/,
    );
    await b.host.runtime.add(member("one"));
    await b.host.runtime.add({ use: "./tests/fixtures/plugins/needs-member", as: "user" });
    await rejectsWith(b.host.runtime.remove("one"), "conflict", /"one": plugin "user" requires it/);
    await b.host.runtime.remove("user");
    await b.host.runtime.remove("one");
  } finally {
    await b.stop();
  }
  assert.deepEqual(events, [
    "setup provider-a",
    "setup one one",
    "setup user got one",
    "teardown one",
    "teardown provider-a",
  ]);
});

Deno.test("a runtime setup that outlasts the plugin timeout is refused and its instance is not listed", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await writeManifest(tmp, "hangs", { runtime: true });
    await Deno.writeTextFile(
      `${tmp}/mod.ts`,
      `import { definePlugin } from "${new URL("../../mod.ts", import.meta.url).href}";\n` +
        `export default definePlugin({ name: "hangs", setup: () => new Promise(() => {}) });\n`,
    );
    const b = await start([], { pluginTimeoutMs: 50 });
    try {
      await rejectsWith(
        b.host.runtime.add({ use: tmp, as: "slow" }),
        "plugin_failed",
        /"slow" did not finish setup within 50 ms/,
      );
      assert.deepEqual(b.plugins(), []);
    } finally {
      await b.stop();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("runtime instances come back after a restart (sqlite-store), after the manifest's plugins", async () => {
  events.length = 0;
  const dataDir = await Deno.makeTempDir();
  const boot = () =>
    createBroker(
      { node: { dataDir }, plugins: [{ use: "sqlite-store" }, fixture("provider-a")] },
      { printLogs: false, baseDir: Deno.cwd() },
    );
  try {
    let b = await boot();
    await b.host.runtime.add(member("one", { label: "kept" }));
    await b.host.runtime.add(member("two"));
    await b.host.runtime.remove("two");
    await b.stop();
    events.length = 0;
    b = await boot();
    try {
      assert.deepEqual(b.plugins().map((p) => [p.id, p.runtime]), [
        ["sqlite-store", false],
        ["provider-a", false],
        ["one", true],
      ]);
      assert.equal(b.host.service("rt:one")?.label, "kept");
      assert.deepEqual(events, ["setup provider-a", "setup one kept"]);
      await b.host.runtime.remove("one");
    } finally {
      await b.stop();
    }
    b = await boot();
    try {
      assert.deepEqual(b.plugins().map((p) => p.id), ["sqlite-store", "provider-a"], "removed stays removed");
    } finally {
      await b.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a recorded runtime instance that fails at start-up is logged and skipped; removing it drops the record", async () => {
  const dataDir = await Deno.makeTempDir();
  const boot = () =>
    createBroker({ node: { dataDir }, plugins: [{ use: "sqlite-store" }] }, {
      printLogs: false,
      baseDir: Deno.cwd(),
    });
  try {
    let b = await boot();
    await b.store.kv("plugins.runtime").set("bad", member("bad", { label: "x", fail: true }));
    await b.stop();
    b = await boot();
    try {
      assert.deepEqual(b.plugins().map((p) => p.id), ["sqlite-store"]);
      assert.ok(b.logs.recent().some((r) => r.level === "error" && /runtime plugin "bad"/.test(r.msg)));
      await b.host.runtime.remove("bad");
      assert.equal(await b.store.kv("plugins.runtime").get("bad"), undefined);
    } finally {
      await b.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
