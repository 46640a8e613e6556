/**
 * What rhea 3 lacks, added to its decoders once, at import:
 * - the AMQP transaction types (spec part 4): the coordinator terminus and the declared and
 *   transactional-state outcomes (rhea decodes unknown termini to null and unknown outcomes with a
 *   console error), and builders for the values a coordinator answers with;
 * - a decoded message's raw payload (rhea drops it), for the size limit and for control messages whose
 *   body descriptor its decoder discards;
 * - an answer to bad input (rhea drops the socket without a word): the error condition of a frame it cannot
 *   read or its state does not allow, for the plugin to close the connection with; in the SASL layer, which
 *   has no close, a failed sasl-outcome;
 * - sending links answered when the application is ready (`deferAttach`), not as the attach arrives;
 * - dispositions that keep each delivery's own outcome (rhea's writer sends a run of deliveries settled in
 *   one turn as one range with the first one's state when the run begins with two of them).
 *
 * @module
 */
import rhea from "rhea";
import terminus from "rhea/lib/terminus.js";
import transport from "rhea/lib/transport.js";
import link from "rhea/lib/link.js";
import frames from "rhea/lib/frames.js";
import sasl from "rhea/lib/sasl.js";
import Session from "rhea/lib/session.js";
import process from "node:process";

// deno-lint-ignore no-explicit-any
type Typed = any;

// rhea's typings omit the reader, the outcome decoder and the constructors this module uses.
const types: Typed = rhea.types;
const message: Typed = rhea.message;

const SOURCE = 0x28;
const TARGET = 0x29;
const COORDINATOR = 0x30;
const DECLARE = 0x31;
const DISCHARGE = 0x32;
const DECLARED = 0x33;
const TRANSACTIONAL_STATE = 0x34;
const SYMBOLIC: Record<number, string> = {
  [SOURCE]: "amqp:source:list",
  [TARGET]: "amqp:target:list",
  [COORDINATOR]: "amqp:coordinator:list",
  [DECLARE]: "amqp:declare:list",
  [DISCHARGE]: "amqp:discharge:list",
  [DECLARED]: "amqp:declared:list",
  [TRANSACTIONAL_STATE]: "amqp:transactional-state:list",
};

/** True when `v` is a described value with the numeric or symbolic descriptor of `code`. */
function isDescribed(v: Typed, code: number): boolean {
  const d = v?.descriptor?.value;
  return d !== undefined && (d === SYMBOLIC[code] || Number(d) === code);
}
const field = (v: Typed, i: number) => types.unwrap(v?.value?.[i], true);

/** The attach target of a controller's link. */
export interface CoordinatorTarget {
  readonly coordinator: true;
}
export const isCoordinator = (target: unknown): target is CoordinatorTarget =>
  (target as CoordinatorTarget | null)?.coordinator === true;

/** A disposition state naming a transaction; rhea dispatches it as the `transactional_state` event. */
export class TransactionalState {
  static readonly composite_type = "transactional_state";
  constructor(readonly txnId: Uint8Array, readonly outcome: Typed) {}
}
/** The answer to a declare; rhea dispatches it as the `declared` event (on the controller's side). */
export class Declared {
  static readonly composite_type = "declared";
  constructor(readonly txnId: Uint8Array) {}
}

/** A decoded message's raw payload: `(message as WithPayload)[PAYLOAD]`. */
export const PAYLOAD: unique symbol = Symbol("amqp.payload");
export interface WithPayload {
  readonly [PAYLOAD]: Uint8Array;
}
const decode = message.decode;
message.decode = (buffer: Uint8Array) => {
  const m = decode(buffer);
  m[PAYLOAD] = buffer;
  return m;
};

const unwrapTerminus = terminus.unwrap;
// An unknown terminus is null, as in rhea, but without the console line rhea prints for each one a peer sends.
terminus.unwrap = (f: Typed) =>
  isDescribed(f, COORDINATOR)
    ? { coordinator: true }
    : f?.descriptor && !isDescribed(f, SOURCE) && !isDescribed(f, TARGET)
    ? null
    : unwrapTerminus(f);
const unwrapOutcome = message.unwrap_outcome;
message.unwrap_outcome = (o: Typed) => {
  if (isDescribed(o, TRANSACTIONAL_STATE)) return new TransactionalState(field(o, 0), field(o, 1));
  if (isDescribed(o, DECLARED)) return new Declared(field(o, 0));
  return unwrapOutcome(o);
};

/**
 * The transaction a transfer's state names, if any. rhea decodes a transfer's state field without its
 * descriptor, to the list of its fields; the transactional state is the one delivery state whose first
 * field is binary (a transfer never carries `declared`, the other one).
 */
export function transactionOf(state: unknown): Uint8Array | undefined {
  return Array.isArray(state) && state[0] instanceof Uint8Array ? state[0] : undefined;
}

/** An outcome as rhea decodes a disposition's state: its fields, and its name as the constructor's type. */
export interface Outcome {
  readonly constructor: { readonly composite_type?: string };
  readonly delivery_failed?: boolean;
  readonly undeliverable_here?: boolean;
}

/** The outcome inside a transactional state, decoded like a disposition's (the state keeps it raw). */
export function innerOutcome(s: TransactionalState): Outcome | undefined {
  return s.outcome ? unwrapOutcome(s.outcome) : undefined;
}

/** A control message on a coordinator link. */
export type Control =
  | { readonly kind: "declare" }
  | { readonly kind: "discharge"; readonly txnId: Uint8Array; readonly fail: boolean };

const AMQP_VALUE = 0x77;

/**
 * Reads a declare or discharge from a transfer's payload; undefined for anything else. rhea's reader
 * keeps only the outer of two descriptors, and the control list is a described value inside the
 * described amqp-value section, so the body is read again past the section's descriptor.
 */
export function controlOf(payload: Uint8Array): Control | undefined {
  const reader = new types.Reader(payload);
  let body: Typed;
  while (reader.remaining() && body === undefined) {
    const start = reader.position;
    const section = reader.read();
    if (Number(section?.descriptor?.value) !== AMQP_VALUE) continue;
    const inner = new types.Reader(payload.subarray(start));
    inner.read_typecode(); // 0x00: a descriptor follows
    inner.read(); // the section's descriptor
    body = inner.read();
  }
  if (isDescribed(body, DECLARE)) return { kind: "declare" };
  if (isDescribed(body, DISCHARGE)) {
    return { kind: "discharge", txnId: field(body, 0), fail: field(body, 1) === true };
  }
  return undefined;
}

const described = (code: number, fields: Typed[]) =>
  types.described(types.wrap_ulong(code), types.wrap_list(fields));

/** The coordinator target echoed in the attach answer. */
export const coordinatorTarget = (): Typed => described(COORDINATOR, []);
/** Declared{txn-id}. */
export const declared = (txnId: Uint8Array): Typed => described(DECLARED, [types.wrap_binary(txnId)]);
/** TransactionalState{txn-id, accepted}: a transactional transfer's provisional outcome. */
export const acceptedIn = (txnId: Uint8Array): Typed =>
  described(TRANSACTIONAL_STATE, [types.wrap_binary(txnId), message.accepted().described()]);

// rhea writes every frame to the socket as it makes it: one write (and system call) per transfer,
// disposition and flow. Corking the socket for the rest of the tick sends them in one write.
const writeFrames = transport.prototype.write;
transport.prototype.write = function (this: unknown, socket: Typed) {
  if (!socket.writableCorked && typeof socket.cork === "function") {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  return writeFrames.call(this, socket);
};

// rhea 3.0.5 `write_dispositions` joins a delivery to the range it is building without comparing outcomes
// while the range holds one delivery, so a reject and the accept after it went out as one rejected range.
// This writer starts a new range whenever the outcome, the settled flag or the id sequence changes; rhea's
// own is no longer reached: an incoming delivery's update is written here before rhea's `process` looks,
// an outgoing one is kept aside from rhea's list and written after its `process`.
function writeDispositions(deliveries: Typed[]): void {
  let first: Typed, last: Typed;
  const flush = () =>
    first.link.session.output(frames.disposition({
      role: first.link.is_receiver(),
      first: first.id,
      last: last.id,
      state: first.state,
      settled: first.settled,
    }));
  for (const d of deliveries) {
    if (
      first !== undefined &&
      (d.id === last.id + 1 && d.settled === last.settled &&
        message.are_outcomes_equivalent(last.state, d.state))
    ) {
      last = d;
      continue;
    }
    if (d === last) continue; // the same delivery updated twice in the turn: its latest state is written
    if (first !== undefined) flush();
    first = last = d;
  }
  if (first !== undefined) flush();
}
{
  const probe = new Session(undefined, 0);
  const incoming = Object.getPrototypeOf(probe.incoming);
  const processIncoming = incoming.process;
  incoming.process = function (this: Typed, session: unknown) {
    if (this.updated.length > 0) {
      writeDispositions(this.updated);
      this.updated = [];
    }
    return processIncoming.call(this, session);
  };
  const outgoing = Object.getPrototypeOf(probe.outgoing);
  const updateOutgoing = outgoing.update;
  outgoing.update = function (this: Typed, delivery: Typed, settled: boolean, state: unknown) {
    const pending = this.pending_dispositions;
    this.pending_dispositions = this.dispositions ??= [];
    try {
      return updateOutgoing.call(this, delivery, settled, state);
    } finally {
      this.pending_dispositions = pending;
    }
  };
  const processOutgoing = outgoing.process;
  outgoing.process = function (this: Typed) {
    const r = processOutgoing.call(this);
    if (this.dispositions?.length) {
      writeDispositions(this.dispositions);
      this.dispositions = [];
    }
    return r;
  };
}

// Two gaps in rhea's answer to a drain, each leaving the peer waiting for it: it sends it only while the
// sender has credit left to use up (by advancing the delivery-count), so not after transfers took all the
// credit; and `set_drained` marks the flow for writing without asking the connection to write, so
// outside of input processing it waits for the next frame the connection happens to send.
const sender = link.Sender.prototype;
sender._get_drain = function (this: Typed) {
  if (!this._draining || !this._drained) return false;
  this.delivery_count += this.credit;
  this.credit = 0;
  return true;
};
const setDrained = sender.set_drained;
sender.set_drained = function (this: Typed, drained: boolean) {
  setDrained.call(this, drained);
  if (this.issue_flow) this.connection._register();
};

// rhea answers a peer's attach at once, before the application has looked at it: a broker whose sending
// link needs a subscription first would say "attached" while a publish could still miss it. On a connection
// marked with `deferAttach`, a sending link stays unanswered until the application opens it (or opens and
// closes it, to refuse).
const DEFER_ATTACH: unique symbol = Symbol("amqp.deferAttach");
const onAttach = sender.on_attach;
const noOpen = () => {};
sender.on_attach = function (this: Typed, frame: unknown) {
  if (!this.connection?.[DEFER_ATTACH]) return onAttach.call(this, frame);
  this.open = noOpen;
  try {
    return onAttach.call(this, frame);
  } finally {
    delete this.open;
  }
};
/** Sending links of `connection` answer the peer's attach only when the application opens them. */
export function deferAttach(connection: Typed): void {
  connection[DEFER_ATTACH] = true;
}

/** Whether the peer's last flow asked this sender to drain its credit (rhea keeps it private). */
export const drainRequested = (sender: Typed): boolean => sender._draining === true;

/** Set on a receiving link while rhea dispatches a transfer that arrived without link credit. */
export const OVER_CREDIT: unique symbol = Symbol("amqp.overCredit");
/** On a delivery that came in several frames: its size in bytes (its payload is dropped over the limit). */
export const RECEIVED: unique symbol = Symbol("amqp.received");
const SIZE_LIMIT: unique symbol = Symbol("amqp.sizeLimit");
let guarded = false;

/**
 * Two things rhea does not check on incoming transfers:
 * - It logs a transfer that exceeds the link credit and processes it anyway. Such a transfer's link is
 *   marked while rhea dispatches it, so the plugin can refuse it with amqp:link:transfer-limit-exceeded.
 * - It collects the frames of a delivery without a bound. Once a delivery's frames pass `maxSize` bytes,
 *   the rest are counted and dropped; the delivery arrives empty, with its size in `RECEIVED`, for the
 *   plugin to reject like any message over the limit.
 * rhea's session internals are not exported: the first receiving link hands them over.
 */
export function guardTransfers(receiver: Typed, maxSize: number): void {
  receiver[SIZE_LIMIT] = maxSize;
  if (guarded) return;
  const incoming = Object.getPrototypeOf(receiver.session.incoming);
  const onTransfer = incoming.on_transfer;
  incoming.on_transfer = function (this: unknown, frame: Typed, link: Typed) {
    const bytes = frame.payload?.length ?? 0;
    const partial = link._incomplete;
    if (partial) {
      partial[RECEIVED] += bytes;
      if (partial[RECEIVED] > link[SIZE_LIMIT]) {
        partial.frames.length = 0;
        frame.payload = undefined;
      }
    }
    const over = link.credit <= 0 && !partial;
    if (over) {
      link.credit = 1; // so rhea does not log the overrun: the plugin answers it
      link[OVER_CREDIT] = true;
    }
    try {
      onTransfer.call(this, frame, link);
    } finally {
      if (over) link[OVER_CREDIT] = false;
    }
    const started = link._incomplete;
    if (started && started !== partial) {
      started[RECEIVED] = bytes;
      if (bytes > link[SIZE_LIMIT]) started.frames.length = 0;
    }
  };
  guarded = true;
}

/** A frame that cannot be read or is not allowed, with the error condition of the close that answers it. */
export class FrameError extends Error {
  // By this name rhea reports an error as the peer's fault (protocol_error), not as its own (error).
  override readonly name = "ProtocolError";
  constructor(
    readonly condition:
      | "amqp:decode-error"
      | "amqp:connection:framing-error"
      | "amqp:illegal-state"
      | "amqp:internal-error",
    message: string,
  ) {
    super(message);
  }
}
const FRAME_HEADER = 8;
// sasl-mechanisms to sasl-outcome; the AMQP performatives are 0x10 to 0x18.
const FIRST_SASL_PERFORMATIVE = 0x40;

// rhea's frame reader throws its ProtocolError for a bad frame header (data offset, frame type), and
// whatever the decoder throws for a bad body; an unknown performative, or one of the other layer, it returns
// for the connection to call a handler that does not exist.
const readFrame = frames.read_frame;
frames.read_frame = (buffer: Uint8Array) => {
  if (buffer.length < FRAME_HEADER) {
    throw new FrameError("amqp:connection:framing-error", `Frame of ${buffer.length} bytes`);
  }
  let frame: Typed;
  try {
    frame = readFrame(buffer);
  } catch (e) {
    const header = (e as Error)?.name === "ProtocolError";
    throw new FrameError(
      header ? "amqp:connection:framing-error" : "amqp:decode-error",
      String((e as Error)?.message ?? e),
    );
  }
  const performative = frame?.performative;
  if (performative && typeof performative.dispatch !== "function") {
    throw new FrameError("amqp:decode-error", "Unknown performative");
  }
  if (
    performative &&
    (performative.constructor.descriptor.numeric >= FIRST_SASL_PERFORMATIVE) !==
      (frame.type === frames.TYPE_SASL)
  ) {
    throw new FrameError("amqp:decode-error", `${performative.constructor} in a frame of type ${frame.type}`);
  }
  return frame;
};

/**
 * The close condition for what rhea threw while it read and handled a frame. rhea refuses a frame that its
 * state does not allow (a second open, a frame on a channel or handle not in use, a transfer after detach)
 * with its ProtocolError or a bare Error; anything else is a fault on this side.
 */
function frameError(e: unknown): FrameError {
  if (e instanceof FrameError) return e;
  const refused = (e as Error)?.name === "ProtocolError" || (e as Error)?.constructor === Error;
  return new FrameError(
    refused ? "amqp:illegal-state" : "amqp:internal-error",
    String((e as Error)?.message ?? e),
  );
}

const ANSWER: unique symbol = Symbol("amqp.answer");
/** On a transport that read bad input: nothing more of it is read. */
const STOPPED: unique symbol = Symbol("amqp.stopped");
const SASL_AUTH = 1;
const saslServer = sasl.Server.prototype;
// rhea answers an init naming a mechanism it did not offer with the outcome auth but waits for another, and
// takes a second init while the first is being checked: either is bad input here, which ends the
// connection, as the spec has it for a mechanism not supported (5.3.3.2).
const onSaslInit = saslServer.on_sasl_init;
saslServer.on_sasl_init = function (this: Typed, frame: Typed) {
  const name = frame.performative.mechanism;
  if (this.mechanism) throw new Error("A second sasl-init");
  if (!Object.hasOwn(this.mechanisms, name)) throw new Error(`SASL mechanism ${name} not offered`);
  onSaslInit.call(this, frame);
};
// Bad input that came while a mechanism was being checked had its outcome already: the check's comes too late.
for (const step of ["do_step", "do_fail"]) {
  const original = saslServer[step];
  saslServer[step] = function (this: Typed, ...args: unknown[]) {
    if (!this.transport[STOPPED]) original.apply(this, args);
  };
}

/** The layer whose frame was bad input: a close answers it in the AMQP layer; in SASL, a failed outcome. */
export type Layer = "amqp" | "sasl";

const readFrames = transport.prototype.read;
transport.prototype.read = function (this: Typed, buffer: Uint8Array) {
  // The AMQP layer's transport has its connection as handler; the SASL layer's, the SASL server of one.
  const amqp = this.handler?.[ANSWER];
  const answer: ((e: FrameError, layer: Layer) => void) | undefined = amqp ??
    this.handler?.connection?.[ANSWER];
  if (!answer) return readFrames.call(this, buffer);
  if (this[STOPPED]) return buffer.length;
  try {
    return readFrames.call(this, buffer);
  } catch (e) {
    // A protocol header is not a frame: rhea ends the socket over a bad one.
    if (!this.header_received) throw e;
    this[STOPPED] = true;
    if (!amqp && this.handler.outcome === undefined) {
      this.handler.outcome = SASL_AUTH;
      this.encode(frames.sasl_frame(frames.sasl_outcome({ code: SASL_AUTH })));
    }
    answer(frameError(e), amqp ? "amqp" : "sasl");
    return buffer.length;
  }
};

/**
 * Hands the bad input of `connection` to `answer` instead of rhea dropping the socket: a frame that cannot
 * be read or that the connection's state does not allow. Nothing after it is read: the connection is over.
 * In the SASL layer the outcome auth has gone out by then, unless an outcome had.
 */
export function onBadInput(connection: Typed, answer: (e: FrameError, layer: Layer) => void): void {
  connection[ANSWER] = answer;
}
