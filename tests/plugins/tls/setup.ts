/**
 * What the TLS tests share: one throw-away PKI per test file, the auth plugin with certificate
 * identity, and the `tls` option of a protocol plugin.
 *
 * @module
 */
import tls from "node:tls";
import { makePki, type Pki } from "../../fixtures/tls/pki.ts";
import { within } from "../../helpers/wait.ts";

/** A PKI removed when the test file's process ends. */
export async function testPki(): Promise<Pki> {
  const pki = await makePki();
  globalThis.addEventListener("unload", () => Deno.removeSync(pki.dir, { recursive: true }));
  return pki;
}

/**
 * auth with alice (the certificate user) and carol (a password user); each may use only destinations
 * under their own name, so a publish that goes through shows who the broker took the client for.
 */
export const authPlugin = {
  use: "auth",
  options: {
    users: [{ username: "alice", password: "alice-pw" }, { username: "carol", password: "carol-pw" }],
    certificateIdentity: true,
    maxFailures: 1000,
    acl: { default: "deny", rules: [{ allow: true, pattern: "%u.>" }] },
  },
};

/** The `tls` option of a listener on a free port, with the PKI's server certificate. */
export function tlsOption(
  pki: Pki,
  clientCertificates: "off" | "optional" | "required",
  extra: Record<string, unknown> = {},
) {
  return {
    cert: pki.cert("server"),
    key: pki.key("server"),
    ca: pki.cert("ca"),
    clientCertificates,
    port: 0,
    ...extra,
  };
}

/** Client TLS options trusting the PKI's CA, with `name`'s certificate when given. */
export function clientTls(pki: Pki, name?: string) {
  return {
    ca: pki.pem("ca"),
    servername: "localhost",
    ...(name ? { cert: pki.pem(name), key: pki.keyPem(name) } : {}),
  };
}

/**
 * The serial number of the certificate a TLS server on `port` presents now, or the handshake error's
 * message when there is no handshake to be had.
 */
export function serverSerial(port: number, o: tls.ConnectionOptions): Promise<string> {
  return within(
    new Promise((resolve) => {
      const s = tls.connect({ port, host: "127.0.0.1", ...o }, () => {
        const serial = s.getPeerCertificate().serialNumber;
        s.destroy();
        resolve(serial);
      });
      s.once("error", (e) => resolve(`error: ${e.message}`));
    }),
    5000,
    "TLS handshake",
  );
}
