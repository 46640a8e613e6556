/**
 * aedes with its in-memory persistence on a loopback port, which it prints. Runs under Deno as it is and
 * under Node.js as a bundle (`deno bundle --platform node`), so the benchmark can measure aedes on the
 * runtime its users run it on.
 *
 * @module
 */
import { Aedes } from "aedes";
import { createServer } from "node:net";
import process from "node:process";

const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
// deno-lint-ignore no-console
server.listen(0, "127.0.0.1", () => console.log(`port ${(server.address() as { port: number }).port}`));
process.on("SIGTERM", () => process.exit(0));
