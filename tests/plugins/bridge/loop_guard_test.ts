import assert from "node:assert/strict";
import { compileSelector, createMessage } from "../../../mod.ts";
import { excludeSelector, mayForward, stamp, VIA, viaOf } from "../../../plugins/bridge/loop_guard.ts";

const withVia = (via?: string) =>
  createMessage({ destination: "q", kind: "queue", properties: via === undefined ? {} : { [VIA]: via } }, 0);

Deno.test("loop guard: a route is read, extended and checked against this node and the peer", () => {
  assert.deepEqual(viaOf({}), []);
  assert.deepEqual(viaOf({ [VIA]: "a,b" }), ["a", "b"]);
  assert.equal(stamp([], "a"), "a");
  assert.equal(stamp(["a"], "b"), "a,b");
  assert.equal(mayForward([], "a", "b"), true);
  assert.equal(mayForward(["a"], "a", "b"), false, "it has been here");
  assert.equal(mayForward(["b"], "a", "b"), false, "it came from the peer");
  assert.equal(mayForward(["c"], "a", "b"), true);
  assert.equal(mayForward(["b"], "a", undefined), true);
});

Deno.test("loop guard: the queue selector passes messages whose route holds none of the nodes, whole names only", () => {
  const sel = compileSelector(excludeSelector(["node-1", "o'k_%"]));
  assert.equal(sel(withVia()), true);
  assert.equal(sel(withVia("node-2")), true);
  assert.equal(sel(withVia("node-10,node-11")), true, "node-1 is not a prefix match");
  assert.equal(sel(withVia("node-1")), false);
  assert.equal(sel(withVia("x,node-1")), false);
  assert.equal(sel(withVia("node-1,x")), false);
  assert.equal(sel(withVia("x,node-1,y")), false);
  assert.equal(sel(withVia("o'k_%")), false, "quotes and LIKE wildcards in node ids are escaped");
  assert.equal(sel(withVia("o'kx%")), true);
});
