import assert from "node:assert/strict";
import { join } from "node:path";
import mqtt from "mqtt";
import { createBroker, TlsCertificates } from "../../../mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, waitFor, within } from "../../helpers/wait.ts";
import { clientTls, serverSerial, testPki } from "./setup.ts";

const pki = await testPki();
const serial = (name: string) =>
  new TextDecoder().decode(
    new Deno.Command("openssl", { args: ["x509", "-noout", "-serial", "-in", pki.cert(name)] }).outputSync()
      .stdout,
  ).trim().replace(/^serial=/, "");

/** Replaces `file` the way certificate tools do: write beside it, then rename over it. */
async function replace(file: string, from: string) {
  await Deno.copyFile(from, file + ".tmp");
  await Deno.rename(file + ".tmp", file);
}

Deno.test("tls reload: new MQTT and HTTPS connections get the new certificate; an open connection keeps working", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferrymq-reload-" });
  await Deno.copyFile(pki.cert("server"), join(dir, "server.pem"));
  await Deno.copyFile(pki.key("server"), join(dir, "server.key"));
  // Relative paths are under the data dir.
  const tls = { cert: "tls/server.pem", key: "tls/server.key", port: 0 };
  const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-test-" });
  await Deno.symlink(dir, join(dataDir, "tls"));
  const tb = await startBroker({
    dataDir,
    plugins: [
      {
        use: "mqtt",
        options: {
          port: 0,
          wsPort: -1,
          hostname: "127.0.0.1",
          sysIntervalMs: 0,
          tls: { ...tls, wsPort: -1 },
        },
      },
      { use: "http", options: { port: 0, hostname: "127.0.0.1", tls } },
    ],
  });
  const mqttPort = tb.ports["mqtt:tls"], httpsPort = tb.ports["http:tls"];
  const open = mqtt.connect(`mqtts://127.0.0.1:${mqttPort}`, { ...clientTls(pki), reconnectPeriod: 0 });
  try {
    await within(new Promise((r) => open.once("connect", r)), 5000, "MQTT connect");
    // deno-lint-ignore no-explicit-any
    const openSerial = () => (open.stream as any).getPeerCertificate().serialNumber;
    const before = serial("server"), after = serial("server-next");
    assert.equal(openSerial(), before);
    assert.equal(await serverSerial(httpsPort, clientTls(pki)), before);

    await replace(join(dir, "server.key"), pki.key("server-next"));
    await replace(join(dir, "server.pem"), pki.cert("server-next"));
    for (const port of [mqttPort, httpsPort]) {
      await waitFor(
        async () => (await serverSerial(port, clientTls(pki))) === after,
        `new certificate on ${port}`,
      );
    }

    // The connection opened before the reload still has the old certificate and still works.
    assert.equal(openSerial(), before);
    const got = new Collector<string>();
    open.on("message", (t) => got.push(t));
    await open.subscribeAsync("r/1", { qos: 1 });
    await open.publishAsync("r/1", "x", { qos: 1 });
    assert.deepEqual(await got.atLeast(1), ["r/1"]);
    const fresh = await mqtt.connectAsync(`mqtts://127.0.0.1:${mqttPort}`, {
      ...clientTls(pki),
      reconnectPeriod: 0,
    });
    // deno-lint-ignore no-explicit-any
    assert.equal((fresh.stream as any).getPeerCertificate().serialNumber, after);
    await fresh.endAsync();
  } finally {
    await open.endAsync();
    await tb.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls reload: files that do not fit together are refused at start and leave a running certificate in place", async () => {
  const log = { debug() {}, info() {}, warn() {}, error() {}, child: () => log, level: "silent" as const };
  const dir = await Deno.makeTempDir({ prefix: "ferrymq-reload-" });
  try {
    const files = { cert: join(dir, "c.pem"), key: join(dir, "c.key") };
    await Deno.copyFile(pki.cert("server"), files.cert);
    await Deno.copyFile(pki.key("server-next"), files.key);
    await assert.rejects(
      TlsCertificates.open(files, { dataDir: dir, log }),
      /does not belong to the certificate/,
    );
    await assert.rejects(
      TlsCertificates.open({ ...files, clientCertificates: "required" }, { dataDir: dir, log }),
      /needs tls\.ca/,
    );
    await Deno.copyFile(pki.key("server"), files.key);
    const certs = await TlsCertificates.open(files, { dataDir: dir, log });
    // A certificate written before its key (or a truncated file) is not taken.
    await Deno.copyFile(pki.cert("server-next"), files.cert);
    assert.equal(await certs.reload(), false);
    assert.equal(certs.certificate.serialNumber, serial("server"));
    await Deno.copyFile(pki.key("server-next"), files.key);
    assert.equal(await certs.reload(), true);
    assert.equal(certs.certificate.serialNumber, serial("server-next"));
    assert.equal(certs.reloads, 1);
    // A broker whose TLS files are missing does not start.
    await assert.rejects(
      createBroker({
        node: { id: "t", dataDir: dir },
        plugins: [{
          use: "mqtt",
          options: { port: 0, wsPort: -1, tls: { cert: "nope.pem", key: "nope.key", port: 0 } },
        }],
      }, { logLevel: "silent" }),
      /Cannot start plugin "mqtt": Cannot read TLS file .*nope\.(pem|key)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
