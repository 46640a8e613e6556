import { existsSync } from "node:fs";
import assert from "node:assert/strict";
import type { Delivery } from "../../../mod.ts";
import type { DelayService } from "../../../plugins/delay/mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, waitFor } from "../../helpers/wait.ts";

// Restart tests need a persistent store plugin.
const NO_STORE = !existsSync(new URL("../../../plugins/sqlite-store/plugin.json", import.meta.url));

const PLUGINS = [{ use: "sqlite-store" }, { use: "delay" }];
const text = (d: Delivery) => new TextDecoder().decode(d.message.body);

Deno.test({
  name: "persistent scheduled messages survive a restart and fire on time; non-persistent ones do not",
  ignore: NO_STORE,
}, async () => {
  let tb = await startBroker({ plugins: PLUGINS });
  const dataDir = tb.dataDir;
  try {
    const t0 = Date.now();
    const soon = await tb.broker.send({
      kind: "queue",
      destination: "r",
      body: "soon",
      persistent: true,
      delay: 100,
    });
    const later = await tb.broker.send({
      kind: "queue",
      destination: "r",
      body: "later",
      persistent: true,
      delay: 1500,
    });
    const volatile = await tb.broker.send({
      kind: "queue",
      destination: "r",
      body: "volatile",
      delay: 1200,
    });
    const rep = await tb.broker.send({
      kind: "queue",
      destination: "r",
      body: "rep",
      producerId: "rep",
      persistent: true,
      properties: { "repeat-count": 1, "repeat-period": 1200, delay: 1200 },
    });
    await tb.stop({ keepData: true });
    // Down past "soon"'s due time: it must fire at once after the restart.
    await new Promise((r) => setTimeout(r, 300));
    tb = await startBroker({ plugins: PLUGINS, dataDir });
    const svc: DelayService = tb.broker.host.service("delay")!;
    const listed = svc.list().items.map((i) => i.id);
    assert.ok(listed.includes(later) && listed.includes(rep), `listed ${listed}`);
    assert.ok(!listed.includes(volatile), "a non-persistent schedule does not survive");
    const got = new Collector<{ id: string; producerId?: string; body: string; at: number }>();
    await tb.broker.subscribe({ kind: "queue", destination: "r" }, (d, sub) => {
      got.push({ id: d.message.id, producerId: d.message.producerId, body: text(d), at: Date.now() });
      sub.ack([d.tag]);
    });
    const items = await got.atLeast(4, 6000);
    assert.deepEqual(items.map((x) => x.id), [soon, rep, later, `${rep}#1`]);
    assert.deepEqual(items.map((x) => x.producerId), [undefined, "rep", undefined, "rep#1"]);
    assert.ok(items[2].at - t0 >= 1500, "later fired on time, not early");
    await waitFor(() => svc.size === 0, "no jobs left");
    // Nothing left to fire after another restart.
    await tb.stop({ keepData: true });
    tb = await startBroker({ plugins: PLUGINS, dataDir });
    assert.equal(tb.broker.host.service("delay")!.size, 0);
    assert.equal(tb.broker.browse("r").length, 0);
  } finally {
    await tb.stop();
  }
});
