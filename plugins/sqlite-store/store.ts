/**
 * The SQLite store. Writes are queued and committed together once per event-loop turn (group commit):
 * every promise of a batch resolves after its one transaction commits, or rejects (store_failed) when it
 * fails, which leaves both the file and this store's memory of it as they were. A message is stored once,
 * with one entry row per queue that holds it.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import {
  BrokerError,
  decodeMessage,
  encodeMessageView,
  type KeyValue,
  type Message,
  type MessageRef,
  type Store,
  type StoredMessage,
} from "../../mod.ts";

/** Options of {@linkcode openSqliteStore}. */
export interface SqliteStoreOptions {
  synchronous?: "NORMAL" | "FULL";
}

type Op = () => void;
/** A stored message: its row, the queues holding it, and whether its one queue is named in its row. */
interface Live {
  seq: number;
  queues: Set<string>;
  inline: boolean;
}
/** Rows per multi-row INSERT or DELETE: each statement run costs about as much as the row it writes. */
const CHUNK = 64;
const ROWS_SIZE = 256 * 1024;

interface Insert {
  seq: number;
  message: Message;
  /** The one queue of a one-queue message; null when its queues are in the entries table. */
  queue: string | null;
}

// A message held by one queue (the usual case) names it in its own row (`queue`): storing and acking it
// touch one B-tree instead of three. A message held by several queues has `queue` NULL and one
// `entries` row per queue.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, data BLOB NOT NULL, redeliveries INTEGER NOT NULL DEFAULT 0, queue TEXT);
CREATE TABLE IF NOT EXISTS entries (queue TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (queue, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_seq ON entries (seq);
CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
`;

/** A {@linkcode Store} on node:sqlite. */
export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #st: Record<
    | "insMsg"
    | "insMsgs"
    | "insEntry"
    | "delEntry"
    | "delMsg"
    | "delMsgs"
    | "unInline"
    | "redeliver"
    | "kvSet"
    | "kvDel"
    | "kvGet",
    StatementSync
  >;
  // Live messages: id -> seq and the queues still holding it, so acks need no lookups.
  readonly #live = new Map<string, Live>();
  /**
   * What `#live` held for each message the next transaction changes, before the first change (undefined:
   * nothing). A transaction that fails puts it back, so `#live` always describes the committed rows: an ack
   * tried again after a failed one must still find its message.
   */
  #before = new Map<string, Live | undefined>();
  #seq = 0;
  /**
   * The next transaction writes its new messages first, then runs `#ops` (which may update those rows), then
   * deletes `#deletes`: a seq is never reused, so nothing else depends on the order.
   */
  #inserts: Insert[] = [];
  #ops: Op[] = [];
  #deletes: number[] = [];
  // Encoded rows of one multi-row INSERT must all stay valid until it runs: they share this buffer.
  #rows = new Uint8Array(ROWS_SIZE);
  /** What every write of the next transaction waits for: one promise for all of them. */
  #batch: PromiseWithResolvers<void> | undefined;
  #closed = false;
  /** Transactions committed so far (tests check group commit with it). */
  transactions = 0;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${opts.synchronous ?? "FULL"};`);
    this.#db.exec(SCHEMA);
    const columns = this.#db.prepare("PRAGMA table_info(messages)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "queue")) this.#db.exec("ALTER TABLE messages ADD COLUMN queue TEXT");
    const p = (sql: string) => this.#db.prepare(sql);
    this.#st = {
      insMsg: p("INSERT INTO messages (seq, id, data, queue) VALUES (?, ?, ?, ?)"),
      unInline: p("UPDATE messages SET queue = NULL WHERE seq = ?"),
      insEntry: p("INSERT OR IGNORE INTO entries (queue, seq) VALUES (?, ?)"),
      delEntry: p("DELETE FROM entries WHERE queue = ? AND seq = ?"),
      insMsgs: p(
        `INSERT INTO messages (seq, id, data, queue) VALUES ${
          new Array(CHUNK).fill("(?, ?, ?, ?)").join(", ")
        }`,
      ),
      delMsg: p("DELETE FROM messages WHERE seq = ?"),
      delMsgs: p(`DELETE FROM messages WHERE seq IN (${new Array(CHUNK).fill("?").join(", ")})`),
      redeliver: p("UPDATE messages SET redeliveries = ? WHERE seq = ?"),
      kvSet: p(
        "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
      ),
      kvDel: p("DELETE FROM kv WHERE ns = ? AND key = ?"),
      kvGet: p("SELECT value FROM kv WHERE ns = ? AND key = ?"),
    };
    const row = this.#db.prepare("SELECT MAX(seq) AS m FROM messages").get() as { m: number | null };
    this.#seq = (row.m ?? 0) + 1;
  }

  append(batch: readonly StoredMessage[]): Promise<void> {
    const st = this.#st;
    for (const { message, queues } of batch) {
      const known = this.#live.get(message.id);
      this.#remember(message.id, known);
      if (!known) {
        const seq = this.#seq++;
        const inline = queues.length === 1;
        this.#live.set(message.id, { seq, queues: new Set(queues), inline });
        this.#inserts.push({ seq, message, queue: inline ? queues[0] : null });
        if (!inline) { for (const q of queues) this.#ops.push(() => st.insEntry.run(q, seq)); }
        continue;
      }
      const seq = known.seq;
      if (known.inline) {
        // A second queue: the row's queue moves to the entries table.
        known.inline = false;
        const first = [...known.queues][0];
        this.#ops.push(() => st.unInline.run(seq));
        if (first !== undefined) this.#ops.push(() => st.insEntry.run(first, seq));
      }
      for (const q of queues) {
        known.queues.add(q);
        this.#ops.push(() => st.insEntry.run(q, seq));
      }
    }
    return this.#commitSoon();
  }

  ack(refs: readonly MessageRef[]): Promise<void> {
    const st = this.#st;
    for (const { queue, id } of refs) {
      const live = this.#live.get(id);
      if (!live || !live.queues.has(queue)) continue;
      this.#remember(id, live);
      live.queues.delete(queue);
      const seq = live.seq;
      if (!live.inline) this.#ops.push(() => st.delEntry.run(queue, seq));
      if (live.queues.size === 0) {
        this.#live.delete(id);
        this.#deletes.push(seq);
      }
    }
    return this.#commitSoon();
  }

  redelivered(refs: readonly MessageRef[], count: number): Promise<void> {
    for (const { id } of refs) {
      const live = this.#live.get(id);
      if (live) this.#ops.push(() => this.#st.redeliver.run(count, live.seq));
    }
    return this.#commitSoon();
  }

  async *recover(): AsyncIterable<StoredMessage> {
    const rows = this.#db.prepare(
      `SELECT m.seq AS seq, m.data AS data, m.redeliveries AS r, m.queue AS queue, 1 AS inline
         FROM messages m WHERE m.queue IS NOT NULL
       UNION ALL
       SELECT m.seq, m.data, m.redeliveries, e.queue, 0 FROM messages m JOIN entries e ON e.seq = m.seq
         WHERE m.queue IS NULL
       ORDER BY seq`,
    ).all() as { seq: number; data: Uint8Array; r: number; queue: string; inline: number }[];
    let i = 0;
    while (i < rows.length) {
      const seq = rows[i].seq;
      const queues: string[] = [];
      const first = rows[i];
      while (i < rows.length && rows[i].seq === seq) queues.push(rows[i++].queue);
      const decoded = decodeMessage(new Uint8Array(first.data));
      const message = first.r > decoded.redeliveryCount ? { ...decoded, redeliveryCount: first.r } : decoded;
      this.#live.set(message.id, { seq, queues: new Set(queues), inline: first.inline === 1 });
      yield { message, queues };
    }
    // Messages whose every entry is gone (a crash between the two deletes) are garbage.
    this.#db.exec("DELETE FROM messages WHERE queue IS NULL AND seq NOT IN (SELECT seq FROM entries)");
  }

  kv<V>(ns: string): KeyValue<V> {
    const st = this.#st;
    return {
      get: (key) => {
        this.#flushNow();
        const row = st.kvGet.get(ns, key) as { value: string } | undefined;
        return Promise.resolve(row ? JSON.parse(row.value) as V : undefined);
      },
      set: (key, value) => {
        const text = JSON.stringify(value);
        this.#ops.push(() => st.kvSet.run(ns, key, text));
        return this.#commitSoon();
      },
      delete: (key) => {
        this.#ops.push(() => st.kvDel.run(ns, key));
        return this.#commitSoon();
      },
      entries: (prefix = "") => {
        this.#flushNow();
        const rows = this.#db.prepare(
          "SELECT key, value FROM kv WHERE ns = ? AND substr(key, 1, ?) = ? ORDER BY key",
        )
          .all(ns, prefix.length, prefix) as { key: string; value: string }[];
        return (async function* () {
          for (const r of rows) yield [r.key, JSON.parse(r.value) as V] as [string, V];
        })();
      },
    };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flushNow();
    this.#closed = true;
    this.#db.close();
    return Promise.resolve();
  }

  #remember(id: string, live: Live | undefined): void {
    if (this.#before.has(id)) return;
    this.#before.set(id, live && { seq: live.seq, queues: new Set(live.queues), inline: live.inline });
  }

  #commitSoon(): Promise<void> {
    if (this.#closed) return Promise.reject(new BrokerError("closed", "Cannot write: the store is closed"));
    if (!this.#batch) {
      this.#batch = Promise.withResolvers<void>();
      // setTimeout(0) runs after the I/O callbacks of this turn, so one turn's writes share a commit.
      setTimeout(() => this.#flushNow(), 0);
    }
    return this.#batch.promise;
  }

  #flushNow(): void {
    const batch = this.#batch;
    if (!batch) return;
    const inserts = this.#inserts, ops = this.#ops, deletes = this.#deletes, before = this.#before;
    this.#batch = undefined;
    this.#inserts = [];
    this.#ops = [];
    this.#deletes = [];
    this.#before = new Map();
    try {
      this.#db.exec("BEGIN");
      this.#insertRows(inserts);
      for (const op of ops) op();
      this.#deleteRows(deletes);
      this.#db.exec("COMMIT");
      this.transactions++;
    } catch (e) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* the failed statement may have ended the transaction already */ }
      for (const [id, live] of before) {
        if (live) this.#live.set(id, live);
        else this.#live.delete(id);
      }
      batch.reject(
        new BrokerError(
          "store_failed",
          `Cannot commit ${inserts.length + ops.length + deletes.length} store writes: ${
            (e as Error).message
          }`,
          { cause: e },
        ),
      );
      return;
    }
    batch.resolve();
  }

  #insertRows(rows: Insert[]): void {
    let i = 0;
    for (; i + CHUNK <= rows.length; i += CHUNK) {
      const args: SQLInputValue[] = [];
      let at = 0;
      for (let k = i; k < i + CHUNK; k++) {
        const { seq, message, queue } = rows[k];
        const data = encodeMessageView(message);
        if (data.length > ROWS_SIZE / 4) {
          args.push(seq, message.id, data.slice(), queue); // a large message gets its own copy
          continue;
        }
        // A full buffer is replaced, not reused: the rows already in it keep it alive until the run.
        if (at + data.length > this.#rows.length) {
          this.#rows = new Uint8Array(ROWS_SIZE);
          at = 0;
        }
        this.#rows.set(data, at);
        args.push(seq, message.id, this.#rows.subarray(at, at + data.length), queue);
        at += data.length;
      }
      this.#st.insMsgs.run(...args);
    }
    // The rest one by one, each straight from the encoder's buffer (the statement copies it).
    for (; i < rows.length; i++) {
      const { seq, message, queue } = rows[i];
      this.#st.insMsg.run(seq, message.id, encodeMessageView(message), queue);
    }
  }

  #deleteRows(seqs: number[]): void {
    let i = 0;
    for (; i + CHUNK <= seqs.length; i += CHUNK) this.#st.delMsgs.run(...seqs.slice(i, i + CHUNK));
    for (; i < seqs.length; i++) this.#st.delMsg.run(seqs[i]);
  }
}

/** Opens (creating when needed) a store at `path`. */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, opts);
}
