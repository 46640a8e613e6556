/**
 * Fault injection for sqlite-store: a second connection to its database file adds triggers that make every
 * write to the message tables fail inside the store's own transaction, as a full or failing disk would.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** Switches write failures of the sqlite-store database at `path` on and off. */
export interface SqliteFault {
  fail(): void;
  heal(): void;
  close(): void;
}

const TRIGGERS = ["messages", "entries"].flatMap((table) =>
  ["INSERT", "UPDATE", "DELETE"].map((op) => ({ name: `fault_${table}_${op.toLowerCase()}`, table, op }))
);

/** Opens the fault switch of the database at `path` (the store must have created its tables). */
export function sqliteFault(path: string): SqliteFault {
  const db = new DatabaseSync(path);
  return {
    fail() {
      for (const t of TRIGGERS) {
        db.exec(
          `CREATE TRIGGER IF NOT EXISTS ${t.name} BEFORE ${t.op} ON ${t.table}
           BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END`,
        );
      }
    },
    heal() {
      for (const t of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${t.name}`);
    },
    close() {
      db.close();
    },
  };
}
