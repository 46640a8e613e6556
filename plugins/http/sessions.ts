/**
 * Request credentials -> a core session, cached per credential (bounded, with a time to live) so a
 * publish does not run the authenticate gate every time. HTTP Basic gives username and password;
 * a Bearer token is the password of the empty username. A verified TLS client certificate goes along
 * (its subject is part of the cache key).
 *
 * @module
 */
import { type BrokerApi, type DeliverySink, hostOf, isReject, type Reject, type Session } from "../../mod.ts";

interface Cached {
  session: Session;
  at: number;
}

const NO_SINK: DeliverySink = { deliver() {} };

/** Where a request came from. */
export interface Peer {
  remote: string;
  certificateSubject?: string;
  /** The listener the request came in on. */
  listener?: string;
}
const encoder = new TextEncoder();

/** Sessions of request-scoped HTTP clients. */
export class SessionCache {
  readonly #broker: BrokerApi;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #cache = new Map<string, Cached>();

  constructor(broker: BrokerApi, opts: { ttlMs: number; max: number }) {
    this.#broker = broker;
    this.#ttlMs = opts.ttlMs;
    this.#max = opts.max;
  }

  /** The session for a request's credentials; a Reject when authentication fails. */
  async forRequest(req: Request, peer: Peer): Promise<Session | Reject> {
    // The address is part of the key: the authenticate gate may decide by it (anonymous from loopback only),
    // so a session opened for one address must never serve another.
    const auth = `${req.headers.get("authorization") ?? ""}\n${peer.certificateSubject ?? ""}\n${
      hostOf(peer.remote)
    }\n${peer.listener ?? ""}`;
    const cached = this.#cache.get(auth);
    if (cached && Date.now() - cached.at < this.#ttlMs && !cached.session.closed) return cached.session;
    const r = await this.open(req, peer, NO_SINK);
    if (isReject(r)) return r;
    if (cached) void cached.session.close("credential cache refresh");
    if (this.#cache.size >= this.#max) {
      const [oldest, entry] = this.#cache.entries().next().value!;
      this.#cache.delete(oldest);
      void entry.session.close("credential cache full");
    }
    this.#cache.set(auth, { session: r, at: Date.now() });
    return r;
  }

  /** A new session of its own (consumers, streams) with the request's credentials. */
  open(req: Request, peer: Peer, sink: DeliverySink): Promise<Session | Reject> {
    const auth = req.headers.get("authorization") ?? "";
    let username: string | undefined, password: Uint8Array | undefined;
    if (/^basic /i.test(auth)) {
      let decoded = "";
      try {
        decoded = atob(auth.slice(6).trim());
      } catch {
        return Promise.resolve({ code: "bad_credentials", reason: "Malformed Basic credentials" });
      }
      const colon = decoded.indexOf(":");
      username = colon < 0 ? decoded : decoded.slice(0, colon);
      password = encoder.encode(colon < 0 ? "" : decoded.slice(colon + 1));
    } else if (/^bearer /i.test(auth)) {
      username = "";
      password = encoder.encode(auth.slice(7).trim());
    }
    return this.#broker.openSession({
      clientId: `http-${crypto.randomUUID()}`,
      protocol: "http",
      remote: peer.remote,
      listener: peer.listener,
      certificateSubject: peer.certificateSubject,
      username,
      password,
    }, sink);
  }

  async closeAll(): Promise<void> {
    for (const c of this.#cache.values()) await c.session.close("http stopping");
    this.#cache.clear();
  }
}
