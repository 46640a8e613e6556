/**
 * The server's SASL mechanisms. Each asks the core's authenticate gate ({@linkcode BrokerApi.authenticate})
 * as soon as it has the client's credentials, so a refusal is the sasl-outcome with code 1 (auth) that AMQP
 * 1.0 part 5.3.3.6 wants, and the connection ends there. The container id comes only with the open that
 * follows: the gate sees the provisional client id `amqp-sasl-<remote>`, and the session opened at the open,
 * with the container id, takes the principal granted here (so `authenticated` and `connected` name the
 * container, and the gate runs once per login).
 *
 * @module
 */
import { type BrokerApi, type ClientInfo, isReject, type Principal } from "../../mod.ts";

/** What the broker knows of a client before its open: all but its id and credentials. */
export type Peer = Pick<ClientInfo, "remote" | "listener" | "certificateSubject">;

/** A server mechanism as rhea drives it: `start` takes the initial response and sets `outcome`. */
export interface SaslMechanism {
  outcome: boolean | undefined;
  /** Who the client is, once `outcome` is true. */
  principal: Principal | undefined;
  /** The user name the client gave (PLAIN). */
  username: string | undefined;
  start(response: Uint8Array | undefined): Promise<void>;
}

/** The credentials in a mechanism's initial response; undefined when it is malformed. */
type Credentials = { username?: string; password?: Uint8Array } | undefined;

const decoder = new TextDecoder();

/** PLAIN (RFC 4616): authzid NUL authcid NUL passwd; the authorization identity is not supported. */
function plain(response: Uint8Array | undefined): Credentials {
  const first = response?.indexOf(0) ?? -1;
  const second = first < 0 ? -1 : response!.indexOf(0, first + 1);
  if (second < 0 || response!.indexOf(0, second + 1) >= 0) return undefined;
  return {
    username: decoder.decode(response!.subarray(first + 1, second)),
    password: response!.slice(second + 1),
  };
}

// ANONYMOUS's response is trace information and EXTERNAL's an authorization identity: neither names the user.
// EXTERNAL's user is the one the client certificate names, which the gate reads from `certificateSubject`.
const NONE = () => ({});
const CREDENTIALS: Record<string, (response: Uint8Array | undefined) => Credentials> = {
  PLAIN: plain,
  ANONYMOUS: NONE,
  EXTERNAL: NONE,
};

/**
 * The mechanism factories for a client connected from `peer`, in the order offered: PLAIN and ANONYMOUS, and
 * EXTERNAL when the peer has a verified client certificate. `refused` is called after a failed outcome.
 */
export function saslMechanisms(
  broker: BrokerApi,
  peer: Peer,
  refused: () => void,
): Record<string, () => SaslMechanism> {
  const names = Object.keys(CREDENTIALS).filter((n) =>
    n !== "EXTERNAL" || peer.certificateSubject !== undefined
  );
  const client = { ...peer, clientId: `amqp-sasl-${peer.remote}`, protocol: "amqp" };
  return Object.fromEntries(names.map((name) => [name, () => ({
    outcome: undefined as boolean | undefined,
    principal: undefined as Principal | undefined,
    username: undefined as string | undefined,
    async start(response: Uint8Array | undefined) {
      const credentials = CREDENTIALS[name](response);
      const granted = credentials && await broker.authenticate({ ...client, ...credentials });
      if (granted === undefined || isReject(granted)) {
        this.outcome = false;
        // A client may try again on the same connection; this one does not get to.
        return refused();
      }
      this.principal = granted;
      this.username = credentials!.username;
      this.outcome = true;
    },
  })]));
}
