/**
 * Python's qpid-proton (Debian python3-qpid-proton) as an independent AMQP 1.0 client.
 */
import assert from "node:assert/strict";
import { startBroker } from "../helpers/broker.ts";
import { hasPythonModule, PYTHON } from "../helpers/python.ts";
// For the `users` service's type.
import type {} from "../../plugins/auth/mod.ts";

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

const TX_SCRIPT = `
import sys
from proton import Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container

class Tx(MessagingHandler, TransactionHandler):
    def __init__(self, url):
        super(Tx, self).__init__(prefetch=0, auto_accept=False)
        self.url = url
        self.phase = "abort"
        self.got = []

    def on_start(self, event):
        self.container = event.container
        self.conn = event.container.connect(self.url)
        self.sender = event.container.create_sender(self.conn, "queue://proton.tx")
        self.container.declare_transaction(self.conn, handler=self)

    def on_transaction_declared(self, event):
        self.txn = event.transaction
        if self.phase in ("abort", "commit"):
            for i in range(10):
                self.txn.send(self.sender, Message(body="%s%d" % (self.phase, i), durable=True, properties={"i": i}))
            self.txn.abort() if self.phase == "abort" else self.txn.commit()
        else:
            if self.phase == "consume-abort":
                self.receiver = self.container.create_receiver(self.conn, "queue://proton.tx", name="proton-tx-receiver")
            self.receiver.flow(10)

    def on_message(self, event):
        self.got.append(event.message.body)
        self.txn.accept(event.delivery)
        if len(self.got) == 10:
            self.txn.abort() if self.phase == "consume-abort" else self.txn.commit()

    def on_transaction_aborted(self, event):
        if self.phase == "abort":
            self.phase = "commit"
        else:
            self.phase = "consume-commit"
            self.got = []
        self.container.declare_transaction(self.conn, handler=self)

    def on_transaction_committed(self, event):
        if self.phase == "commit":
            self.phase = "consume-abort"
            self.container.declare_transaction(self.conn, handler=self)
            return
        print("GOT " + ",".join(self.got))
        self.conn.close()

Container(Tx("amqp://127.0.0.1:%s" % sys.argv[1])).run()
`;

Deno.test({
  name: "qpid-proton transactions: sends rolled back and committed, acks rolled back and committed",
  ignore: !hasProton,
  async fn() {
    const tb = await startBroker({
      plugins: [{ use: "sqlite-store" }, { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } }],
    });
    try {
      const out = await new Deno.Command(PYTHON, { args: ["-c", TX_SCRIPT, String(tb.ports["amqp:tcp"])] })
        .output();
      const stdout = new TextDecoder().decode(out.stdout);
      const expected = Array.from({ length: 10 }, (_, i) => `commit${i}`).join(",");
      assert.equal(
        stdout.trim().split("\n").at(-1),
        `GOT ${expected}`,
        stdout + new TextDecoder().decode(out.stderr),
      );
      // The consume-and-abort round put the messages back; the commit round acked them.
      const q = tb.broker.queue("proton.tx")!;
      assert.equal(q.pending + q.inflight, 0);
    } finally {
      await tb.stop();
    }
  },
});

const DRAIN_SCRIPT = `
import sys
from proton.handlers import MessagingHandler
from proton.reactor import Container

class Drain(MessagingHandler):
    def __init__(self, url):
        super(Drain, self).__init__(prefetch=0)
        self.url = url
        self.got = []
        self.rounds = []

    def on_start(self, event):
        self.conn = event.container.connect(self.url)
        self.receiver = event.container.create_receiver(self.conn, "queue://proton.drain", name="drain-r")
        self.timer = event.container.schedule(5, self)

    def on_timer_task(self, event):
        print("TIMEOUT " + ";".join(self.rounds))
        self.conn.close()

    def on_link_opened(self, event):
        if event.receiver == self.receiver:
            self.receiver.drain(5)

    def on_message(self, event):
        self.got.append(event.message.body.decode())

    # A drain is over when the broker's answering flow has used up the credit.
    def on_link_flow(self, event):
        if event.receiver != self.receiver or self.receiver.draining():
            return
        self.rounds.append("%s/%d" % (",".join(self.got), self.receiver.credit))
        if len(self.rounds) == 1:
            self.receiver.drain(3)
        else:
            print("DRAINED " + ";".join(self.rounds))
            self.timer.cancel()
            self.conn.close()

Container(Drain("amqp://127.0.0.1:%s" % sys.argv[1])).run()
`;

Deno.test({
  name: "qpid-proton drain: what the queue has, then the credit used up; again on an empty queue",
  ignore: !hasProton,
  async fn() {
    const tb = await startBroker({ plugins: [{ use: "amqp", options: { port: 0, hostname: "127.0.0.1" } }] });
    try {
      for (const body of ["a", "b"]) {
        await tb.broker.publish({ kind: "queue", destination: "proton.drain", body });
      }
      const out = await new Deno.Command(PYTHON, { args: ["-c", DRAIN_SCRIPT, String(tb.ports["amqp:tcp"])] })
        .output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(
        stdout.trim().split("\n").at(-1),
        "DRAINED a,b/0;a,b/0",
        stdout + new TextDecoder().decode(out.stderr),
      );
    } finally {
      await tb.stop();
    }
  },
});

const SASL_SCRIPT = `
import sys
from proton import Message
from proton.utils import BlockingConnection
url = "amqp://127.0.0.1:%s" % sys.argv[1]
for password in ["nope", "a-pw"]:
    try:
        conn = BlockingConnection(url, user="alice", password=password, allowed_mechs="PLAIN", timeout=5)
        conn.create_sender("queue://proton.sasl").send(Message(body=password))
        conn.close()
        print("SENT", password)
    except Exception as e:
        print("REFUSED", password, e)
`;

Deno.test({
  name:
    "qpid-proton SASL PLAIN: a wrong password fails authentication (counted by auth); the right one sends",
  ignore: !hasProton,
  async fn() {
    const tb = await startBroker({
      plugins: [
        {
          use: "auth",
          options: {
            anonymous: "off",
            users: [{ username: "alice", password: "a-pw" }],
            acl: { default: "allow", rules: [] },
          },
        },
        { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } },
      ],
    });
    try {
      const out = await new Deno.Command(PYTHON, { args: ["-c", SASL_SCRIPT, String(tb.ports["amqp:tcp"])] })
        .output();
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      assert.equal(lines.length, 2, lines.join("\n") + new TextDecoder().decode(out.stderr));
      assert.match(
        lines[0],
        /^REFUSED nope .*amqp:unauthorized-access.*Authentication failed \[mech=PLAIN\]/,
      );
      assert.equal(lines[1], "SENT a-pw");
      assert.equal(tb.broker.host.service("users")!.failedLogins().total, 1);
      assert.equal(tb.broker.queue("proton.sasl")!.pending, 1);
    } finally {
      await tb.stop();
    }
  },
});
