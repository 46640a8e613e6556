/**
 * Python's qpid-proton (Debian python3-qpid-proton) as an independent AMQP 1.0 client.
 */
import assert from "node:assert/strict";
import { startBroker } from "../helpers/broker.ts";
import { hasPythonModule, PYTHON } from "../helpers/python.ts";

const SCRIPT = `
import sys
from proton import Message
from proton.utils import BlockingConnection
url = "amqp://127.0.0.1:%s" % sys.argv[1]
conn = BlockingConnection(url)
sender = conn.create_sender("queue://proton")
for i in range(1000):
    sender.send(Message(body="m%d" % i, durable=True, id="id-%d" % i, correlation_id="c-%d" % i,
                        subject="s", properties={"n": i, "tag": "x"}))
# rhea keys links by name alone, so the receiver gets a name of its own (proton reuses one per address).
receiver = conn.create_receiver("queue://proton", credit=100, name="proton-receiver")
ok = True
for i in range(1000):
    m = receiver.receive(timeout=10)
    if m.body != "m%d" % i or m.id != "id-%d" % i or m.correlation_id != "c-%d" % i or m.properties.get("n") != i or not m.durable:
        ok = False
        print("mismatch", i, m.body, m.id, m.properties)
        break
    receiver.accept()
conn.close()
print("OK" if ok else "FAIL")
`;

const hasProton = hasPythonModule("proton", "python3-qpid-proton");

Deno.test({
  name: "qpid-proton sends and receives 1,000 durable messages with their properties",
  ignore: !hasProton,
  async fn() {
    const tb = await startBroker({
      plugins: [{ use: "sqlite-store" }, { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } }],
    });
    try {
      const out = await new Deno.Command(PYTHON, { args: ["-c", SCRIPT, String(tb.ports["amqp:tcp"])] })
        .output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(stdout.trim().split("\n").at(-1), "OK", stdout + new TextDecoder().decode(out.stderr));
      assert.equal(tb.broker.queue("proton")!.pending + tb.broker.queue("proton")!.inflight, 0);
    } finally {
      await tb.stop();
    }
  },
});
