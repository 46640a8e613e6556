/**
 * TLS for every listener: certificate and key files from the manifest, optional client certificates
 * verified against a CA, and hot reload when the files change. Servers are `node:tls` servers because
 * `Deno.listenTls` can neither ask for a client certificate nor show the one it got, and cannot change
 * its certificate without closing; `tls.Server#setSecureContext` gives new connections the new
 * certificate while open ones keep theirs.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import tls from "node:tls";
import type { Logger } from "./api.ts";

/** The `tls` object of a listener's options (plugin.json). */
export interface TlsSettings {
  /** PEM certificate chain; relative paths are under the node's data dir. */
  cert: string;
  /** PEM private key matching `cert`. */
  key: string;
  /** PEM CA bundle that client certificates must chain to. */
  ca?: string;
  /**
   * "off": no client certificate asked for; "optional": asked for, a client without one still
   * connects, a client with one that does not verify is refused; "required": no verified
   * certificate, no handshake.
   */
  clientCertificates?: "off" | "optional" | "required";
}

/** Who is on the other end of an accepted TLS connection. */
export interface TlsPeer {
  /** "ip:port". */
  readonly remote: string;
  /** RFC 4514 subject of the verified client certificate ("CN=alice,O=Example"). */
  readonly certificateSubject?: string;
}

/** Identifies the certificate a listener serves (logs, tests). */
export interface CertificateInfo {
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly subject: string;
  readonly validTo: string;
}

interface Files {
  cert: string;
  key: string;
  ca?: string;
}

interface Loaded {
  context: tls.SecureContextOptions;
  info: CertificateInfo;
  /** The PEM texts, to tell a real change from a touched file. */
  stamp: string;
}

// RFC 4514: most specific attribute first, special characters in values escaped.
function formatSubject(subject: string): string {
  return subject.split("\n").reverse().map((rdn) => {
    const eq = rdn.indexOf("=");
    const value = rdn.slice(eq + 1).replace(/[,+"\\<>;]/g, "\\$&").replace(/^[ #]| $/g, "\\$&");
    return rdn.slice(0, eq + 1) + value;
  }).join(",");
}

async function readFiles(files: Files): Promise<Loaded> {
  const read = (file: string) =>
    Deno.readTextFile(file).catch((e) => {
      throw new Error(`Cannot read TLS file ${file}: ${e.message}`);
    });
  const [cert, key, ca] = await Promise.all([
    read(files.cert),
    read(files.key),
    files.ca ? read(files.ca) : undefined,
  ]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`${files.cert} is not a PEM certificate: ${(e as Error).message}`);
  }
  // Checked here because a mismatched pair would otherwise only fail at each handshake.
  const spki = { type: "spki", format: "pem" } as const;
  let fromKey: string;
  try {
    fromKey = createPublicKey(createPrivateKey(key)).export(spki) as string;
  } catch (e) {
    throw new Error(`${files.key} is not a PEM private key: ${(e as Error).message}`);
  }
  if (fromKey !== x509.publicKey.export(spki)) {
    throw new Error(`${files.key} does not belong to the certificate in ${files.cert}`);
  }
  return {
    context: ca === undefined ? { cert, key } : { cert, key, ca },
    info: {
      serialNumber: x509.serialNumber,
      fingerprint256: x509.fingerprint256,
      subject: formatSubject(x509.subject),
      validTo: x509.validTo,
    },
    stamp: cert + key + (ca ?? ""),
  };
}

/**
 * One plugin's certificates: loads and checks the files, watches them and swaps the certificate of
 * every server it made. A reload that fails (missing file, key not matching the certificate,
 * unparsable PEM) is logged and the previous certificate stays in use.
 *
 * @example
 * ```ts ignore
 * const certs = await loadTls({ cert: "server.pem", key: "server.key" }, ctx);
 * const server = certs.createServer((socket, peer) => handle(socket, peer.certificateSubject));
 * server.listen(8883);
 * ```
 */
export class TlsCertificates {
  readonly clientCertificates: "off" | "optional" | "required";
  readonly #files: Files;
  readonly #log: Logger;
  readonly #servers = new Set<tls.Server>();
  #current: Loaded;
  #reloads = 0;

  private constructor(files: Files, loaded: Loaded, o: { settings: TlsSettings; log: Logger }) {
    this.#files = files;
    this.#current = loaded;
    this.#log = o.log;
    this.clientCertificates = o.settings.clientCertificates ?? "off";
  }

  /** Reads and checks the files; throws with the file named when they are unusable. */
  static async open(settings: TlsSettings, o: { dataDir: string; log: Logger }): Promise<TlsCertificates> {
    const path = (p: string) => isAbsolute(p) ? p : resolve(join(o.dataDir, p));
    const files = {
      cert: path(settings.cert),
      key: path(settings.key),
      ca: settings.ca && path(settings.ca),
    };
    if (settings.clientCertificates && settings.clientCertificates !== "off" && !files.ca) {
      throw new Error(`tls.clientCertificates "${settings.clientCertificates}" needs tls.ca`);
    }
    return new TlsCertificates(files, await readFiles(files), { settings, log: o.log });
  }

  /** The certificate new connections get. */
  get certificate(): CertificateInfo {
    return this.#current.info;
  }

  /** How many times the certificate was replaced since start. */
  get reloads(): number {
    return this.#reloads;
  }

  /**
   * Re-reads the files; on success every server made by {@linkcode createServer} hands the new
   * certificate to connections it accepts from now on. Returns false (and logs why) when the files are
   * unusable, which also happens between an operator writing the certificate and writing its key.
   */
  async reload(): Promise<boolean> {
    let next: Loaded;
    try {
      next = await readFiles(this.#files);
    } catch (e) {
      this.#log.warn("TLS files not reloaded; the current certificate stays", { error: e });
      return false;
    }
    if (next.stamp === this.#current.stamp) return true;
    this.#current = next;
    this.#reloads++;
    for (const s of this.#servers) s.setSecureContext(next.context);
    this.#log.info(`TLS certificate reloaded (serial ${next.info.serialNumber})`);
    return true;
  }

  /**
   * Reloads whenever one of the files changes until `signal` aborts. The folders are watched, not the
   * files, so a certificate replaced by rename (how most tools write them) is still seen; Kubernetes
   * swaps a `..data` link in the folder, so changes to `..` entries count too.
   */
  watch(signal: AbortSignal): void {
    const files = new Set(Object.values(this.#files).filter((f): f is string => !!f));
    const watcher = Deno.watchFs([...new Set([...files].map((f) => dirname(f)))], { recursive: false });
    signal.addEventListener("abort", () => watcher.close(), { once: true });
    const ours = (p: string) => files.has(p) || basename(p).startsWith("..");
    (async () => {
      for await (const e of watcher) {
        if (e.kind !== "access" && e.paths.some(ours)) await this.reload();
      }
    })().catch(() => {/* the watcher was closed */});
  }

  /**
   * A TLS server with the current certificate; `onSocket` gets each connection once its handshake
   * succeeded (and its client certificate verified, when one is asked for).
   */
  createServer(onSocket: (socket: tls.TLSSocket, peer: TlsPeer) => void): tls.Server {
    const asks = this.clientCertificates !== "off";
    const server = tls.createServer({
      ...this.#current.context,
      requestCert: asks,
      rejectUnauthorized: this.clientCertificates === "required",
    });
    this.#servers.add(server);
    server.on("close", () => this.#servers.delete(server));
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      if (!asks) return onSocket(socket, { remote });
      const x509 = socket.getPeerX509Certificate();
      if (x509 && !socket.authorized) {
        // "optional" lets a client without a certificate in, not one with a certificate we cannot trust.
        this.#log.debug(`TLS client ${remote} refused: ${socket.authorizationError}`);
        socket.destroy();
        return;
      }
      onSocket(socket, { remote, certificateSubject: x509 && formatSubject(x509.subject) });
    });
    server.on("tlsClientError", (e: Error, socket: tls.TLSSocket) => {
      this.#log.debug(`TLS handshake with ${socket?.remoteAddress} failed: ${e.message}`);
    });
    return server;
  }
}

/** Opens `settings` for a plugin and watches the files for as long as the plugin runs. */
export async function loadTls(
  settings: TlsSettings,
  ctx: { dataDir: string; log: Logger; signal: AbortSignal },
): Promise<TlsCertificates> {
  const certs = await TlsCertificates.open(settings, ctx);
  certs.watch(ctx.signal);
  return certs;
}
