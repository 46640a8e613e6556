/**
 * STOMP frames for the raw-socket tests.
 *
 * @module
 */
const enc = new TextEncoder();

/** Valid frames of every kind a client sends after CONNECT, which the fuzz tests send as they are and mutated. */
export const fuzzSeeds = (): Uint8Array[] =>
  [
    "SEND\ndestination:/queue/fz\ncontent-length:3\n\nabc\0",
    "SUBSCRIBE\nid:1\ndestination:/topic/fz.>\nack:client\n\n\0",
    "ACK\nid:1:1\n\n\0",
    "BEGIN\ntransaction:t\n\n\0",
    "COMMIT\ntransaction:t\n\n\0",
    "NACK\nid:x\n\n\0",
    "\n",
  ].map((s) => enc.encode(s));
