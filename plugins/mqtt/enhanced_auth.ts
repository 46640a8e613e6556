/**
 * MQTT 5 enhanced authentication (spec 4.12): the CONNECT's Authentication Method names a method that
 * some plugin registered with the core ({@linkcode BrokerApi.registerAuthMethod}); its challenges go to
 * the client in AUTH packets (0x18 continue) and the client's AUTH answers go back to it, until it
 * answers with a principal or a refusal. The same runs again for re-authentication (AUTH 0x19).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { AuthMethod, AuthStep, ClientInfo, Principal, Reject } from "../../mod.ts";
import { isReject } from "../../mod.ts";
import { RC } from "./reason_codes.ts";

// deno-lint-ignore no-explicit-any
type Packet = any;

/** What the exchange needs from its connection. */
export interface AuthPeer {
  send(packet: Packet): void;
  protocolError(code: number, reason: string): void;
}

/** The outcome of one exchange. */
export type AuthOutcome = { readonly principal: Principal; readonly data?: Uint8Array } | Reject;

/** One connection's authentication exchanges with one method. */
export class EnhancedAuth {
  readonly method: AuthMethod;
  readonly #peer: AuthPeer;
  readonly #timeoutMs: number;
  #waiting: ((p: Packet | undefined) => void) | undefined;

  constructor(method: AuthMethod, peer: AuthPeer, timeoutMs: number) {
    this.method = method;
    this.#peer = peer;
    this.#timeoutMs = timeoutMs;
  }

  /** True while an exchange waits for the client's next AUTH. */
  get waiting(): boolean {
    return this.#waiting !== undefined;
  }

  /** Hands over an AUTH packet that an exchange waits for; false when none waits. */
  offer(p: Packet): boolean {
    const w = this.#waiting;
    if (!w) return false;
    this.#waiting = undefined;
    w(p);
    return true;
  }

  /** Runs one exchange from the client's initial data; undefined when the connection ended meanwhile. */
  async run(client: ClientInfo, initial: Uint8Array | undefined): Promise<AuthOutcome | undefined> {
    const conversation = this.method.start(client);
    let step: AuthStep = await conversation.step(initial);
    while ("challenge" in step) {
      this.#peer.send({
        cmd: "auth",
        reasonCode: RC.CONTINUE_AUTHENTICATION,
        properties: {
          authenticationMethod: this.method.name,
          authenticationData: Buffer.from(step.challenge),
        },
      });
      const answer = await this.#next();
      if (answer === undefined) return undefined;
      if (answer.reasonCode !== RC.CONTINUE_AUTHENTICATION) {
        this.#peer.protocolError(RC.PROTOCOL_ERROR, "expected AUTH with reason 0x18 during authentication");
        return undefined;
      }
      if (answer.properties?.authenticationMethod !== this.method.name) {
        // [MQTT-4.12.0-5]: the method cannot change within an exchange.
        this.#peer.protocolError(RC.PROTOCOL_ERROR, "authentication method changed during the exchange");
        return undefined;
      }
      step = await conversation.step(answer.properties?.authenticationData);
    }
    return isReject(step) ? step : { principal: step.principal, data: step.data };
  }

  /** The client's next AUTH, or undefined when it does not come in time (the connection is ended). */
  #next(): Promise<Packet | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        this.#peer.protocolError(RC.NOT_AUTHORIZED, "no AUTH answer in time");
        resolve(undefined);
      }, this.#timeoutMs);
      this.#waiting = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
    });
  }

  /** The connection ended: an exchange that waits gives up. */
  cancel(): void {
    this.offer(undefined);
  }
}
