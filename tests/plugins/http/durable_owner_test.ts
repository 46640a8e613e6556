import assert from "node:assert/strict";
import { startBroker } from "../../helpers/broker.ts";
import { base, http } from "./helpers.ts";

/** Reads an SSE response until `until` matches what came so far; returns it and stops reading. */
async function readUntil(res: Response, until: RegExp): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!until.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  await reader.cancel();
  return text;
}

Deno.test("http: a durable SSE stream is its user's: another user naming it neither replays nor takes it", async () => {
  const tb = await startBroker({
    plugins: [{
      use: "auth",
      options: {
        users: [{ username: "alice", password: "pw" }, { username: "bob", password: "pw" }],
        acl: { default: "allow", rules: [{ allow: false, pattern: "secret.>", users: ["bob"] }] },
      },
    }, http],
  });
  const as = (u: string) => ({ authorization: "Basic " + btoa(`${u}:pw`) });
  const publish = async (topic: string, body: string, user: string) =>
    (await fetch(`${base(tb)}/topics/${topic}/messages`, { method: "POST", headers: as(user), body })).body
      ?.cancel();
  try {
    const alice = await fetch(`${base(tb)}/topics/secret.x/events?durable=feed`, { headers: as("alice") });
    await publish("secret.x", "S1", "alice");
    const first = await readUntil(alice, /event: message/);
    const aliceId = /^id: (.*)$/m.exec(first)![1];
    await publish("secret.x", "S2", "alice");

    const bob = await fetch(`${base(tb)}/topics/public/events?durable=feed`, {
      headers: { ...as("bob"), "last-event-id": aliceId },
    });
    assert.equal(bob.status, 200);
    // What bob's stream holds before his own first message: nothing of alice's.
    const published = publish("public", "P1", "bob");
    const seen = await readUntil(bob, /"UDE="|P1/);
    await published;
    assert.doesNotMatch(seen, /UzI=|S2|UzE=|S1/);
    // Alice's durable subscription is still on her topic.
    const bound = tb.broker.destinations().filter((d) => d.name.startsWith("$http.sse.")).map((d) =>
      d.boundTo
    );
    assert.deepEqual(bound.sort(), ["public", "secret.x"]);
  } finally {
    await tb.stop();
  }
});
