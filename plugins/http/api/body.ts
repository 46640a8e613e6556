/**
 * JSON request bodies checked by the handler, not by zod-openapi: it checks a body only under a JSON
 * content type and refuses any other with 415, while these routes take JSON whatever type the client
 * names (`curl -d` says form), and no body as `{}`.
 *
 * @module
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import { issuesText, problem } from "../problems.ts";

type RequestBody = NonNullable<NonNullable<RouteConfig["request"]>["body"]>;

/** The OpenAPI request body of `schema`, as plain JSON Schema so that zod-openapi leaves it to the handler. */
export const documentedBody = (schema: z.ZodType): RequestBody => ({
  // zod's JSON Schema type allows boolean schemas, zod-openapi's does not; zod makes none for an object.
  content: { "application/json": { schema: z.toJSONSchema(schema, { io: "input" }) as object } },
});

/** The body as JSON checked against `schema`, or the 400 problem. */
export async function jsonBody<T extends z.ZodType>(
  req: { text(): Promise<string> },
  schema: T,
): Promise<z.output<T> | Response> {
  const text = await req.text();
  let body: unknown = {};
  try {
    if (text.trim() !== "") body = JSON.parse(text);
  } catch (e) {
    return problem("invalid_json", (e as Error).message, 400);
  }
  const parsed = schema.safeParse(body);
  return parsed.success ? parsed.data : problem("invalid_argument", issuesText(parsed.error.issues));
}
