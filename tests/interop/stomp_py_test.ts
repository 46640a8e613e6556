/**
 * Python's stomp.py (Debian python3-stomp) as a second, independent STOMP client.
 */
import assert from "node:assert/strict";
import { startBroker } from "../helpers/broker.ts";
import { hasPythonModule, PYTHON } from "../helpers/python.ts";

const SCRIPT = `
import sys, time, threading, stomp
port = int(sys.argv[1])
got = []
done = threading.Event()
class L(stomp.ConnectionListener):
    def on_message(self, frame):
        got.append((frame.body, frame.headers.get("color"), frame.headers.get("persistent")))
        conn.ack(frame.headers["ack"])
        if len(got) == 200: done.set()
conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0))
conn.set_listener("", L())
conn.connect(wait=True)
conn.subscribe("/queue/py", id="1", ack="client-individual")
for i in range(200):
    conn.send("/queue/py", "m%d" % i, headers={"persistent": "true", "color": "red"}, receipt="r%d" % i)
ok = done.wait(20)
conn.disconnect()
print("OK" if ok and got[0] == ("m0", "red", "true") and len(got) == 200 else "FAIL %d %s" % (len(got), got[:3]))
`;

// Debian's packages install into the system interpreter, which may not be the first python3 on PATH.
const hasStompPy = hasPythonModule("stomp", "python3-stomp");

Deno.test({
  name: "stomp.py sends and receives 200 persistent messages with properties",
  ignore: !hasStompPy,
  async fn() {
    const tb = await startBroker({
      plugins: [{ use: "sqlite-store" }, {
        use: "stomp",
        options: { port: 0, wsPort: -1, hostname: "127.0.0.1" },
      }],
    });
    try {
      const out = await new Deno.Command(PYTHON, { args: ["-c", SCRIPT, String(tb.ports["stomp:tcp"])] })
        .output();
      const text = new TextDecoder().decode(out.stdout).trim();
      assert.equal(text, "OK", new TextDecoder().decode(out.stderr));
    } finally {
      await tb.stop();
    }
  },
});
