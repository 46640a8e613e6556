/**
 * JSON request bodies checked by the handler, not by zod-openapi: it checks a body only under a JSON
 * content type and refuses any other with 415, while these routes take JSON whatever type the client
 * names (`curl -d` says form), and no body as `{}`.
 *
 * @module
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import { BrokerError } from "../../../mod.ts";
import { issuesText, problem } from "../problems.ts";

type RequestBody = NonNullable<NonNullable<RouteConfig["request"]>["body"]>;

/** The OpenAPI request body of `schema`, as plain JSON Schema so that zod-openapi leaves it to the handler. */
export const documentedBody = (schema: z.ZodType): RequestBody => ({
  // zod's JSON Schema type allows boolean schemas, zod-openapi's does not; zod makes none for an object.
  content: { "application/json": { schema: z.toJSONSchema(schema, { io: "input" }) as object } },
});

/** A request body that did not arrive whole in time: answered 408. */
export class BodyTimeout extends Error {}

/** What a body may be: at most `maxBytes`, whole within `timeoutMs` (0: no time limit). */
export interface BodyLimits {
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/**
 * The request's body, whole. Over `maxBytes` (by its Content-Length, unread, or as it arrives) it is
 * refused with payload_too_large; one that does not end within `timeoutMs` (a short Content-Length, a
 * chunked body without its last chunk) fails with {@linkcode BodyTimeout}, so it cannot hold the request,
 * and the server's shutdown, forever. One timer per request: wrapping every body in a timed stream cost
 * HTTP publishes 40% of their rate.
 */
export async function readBody(req: Request, limits: BodyLimits): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limits.maxBytes) throw tooLarge(limits.maxBytes);
  if (req.body === null) return new Uint8Array(0);
  return await within(readLimited(req.body, limits.maxBytes), limits.timeoutMs);
}

const tooLarge = (max: number) => new BrokerError("payload_too_large", `The body exceeds ${max} bytes`);

async function readLimited(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) throw tooLarge(max);
    chunks.push(chunk);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  chunks.reduce((at, c) => (out.set(c, at), at + c.byteLength), 0);
  return out;
}

async function within<T>(read: Promise<T>, ms: number): Promise<T> {
  if (ms <= 0) return await read;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BodyTimeout(`The body did not arrive within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The body, read under `limits`, as JSON checked against `schema`, or the 400 problem. */
export async function jsonBody<T extends z.ZodType>(
  req: Request,
  schema: T,
  limits: BodyLimits,
): Promise<z.output<T> | Response> {
  const text = new TextDecoder().decode(await readBody(req, limits));
  let body: unknown = {};
  try {
    if (text.trim() !== "") body = JSON.parse(text);
  } catch (e) {
    return problem("invalid_json", (e as Error).message, 400);
  }
  const parsed = schema.safeParse(body);
  return parsed.success ? parsed.data : problem("invalid_argument", issuesText(parsed.error.issues));
}
