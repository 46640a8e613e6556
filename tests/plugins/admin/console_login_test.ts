import assert from "node:assert/strict";
import { safeNext } from "../../../console/routes/_middleware.ts";

Deno.test("console login: `next` only ever leads to a page of this console", () => {
  for (const ok of ["/", "/destinations?kind=queue", "/destinations/q%2F1#browse"]) {
    assert.equal(safeNext(ok), ok);
  }
  // Each of these is another origin to a browser: tabs and newlines are dropped, backslashes are slashes.
  for (
    const bad of [
      "//evil.example/",
      "/\\evil.example/",
      "/\t/evil.example/",
      "/\n/evil.example/",
      "\\/evil.example",
      "https://evil.example/",
      "javascript:alert(1)",
      "destinations",
      "",
      null,
    ]
  ) {
    assert.equal(safeNext(bad), "/", JSON.stringify(bad));
  }
});
