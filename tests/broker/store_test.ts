import { MemoryStore } from "../../broker/store.ts";
import { storeConformance } from "../conformance/store.ts";

storeConformance(
  "MemoryStore",
  () => Promise.resolve({ store: new MemoryStore(), cleanup: () => Promise.resolve() }),
);
