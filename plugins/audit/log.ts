/**
 * The audit log: its own SQLite file (WAL), one append-only table guarded by triggers that RAISE on
 * UPDATE and on DELETE, and a hash chain: each entry carries the SHA-256 or SM3 hash of the previous
 * entry's hash and its own content, so an edit made behind the triggers' back (another SQLite client,
 * a dropped trigger) shows up in {@linkcode AuditLog.verify}. Entries are buffered and written in one
 * transaction per flush, so a flood of connection events does not cost a synchronous write each.
 * Retention removes whole prefixes only: each removal is recorded first in `audit_prune` (append-only
 * too) with the hash it cut at, which the DELETE trigger requires and `verify` checks.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { sm3Hex } from "../crypto-sm/sm3.ts";

/** What kind of event an entry records. */
export type AuditKind =
  | "admin"
  | "login"
  | "login_failed"
  | "access_denied"
  | "connect"
  | "disconnect"
  | "audit";
export const AUDIT_KINDS: readonly AuditKind[] = [
  "admin",
  "login",
  "login_failed",
  "access_denied",
  "connect",
  "disconnect",
  "audit",
];

/** One event to record: who (`user`), when (`ts`), what (`action` on `object`), from where (`remote`). */
export interface AuditRecord {
  /** ms since the epoch. */
  readonly ts: number;
  readonly kind: AuditKind;
  /** Principal id, or the user name a failed login tried. */
  readonly user?: string;
  /** "destination.create", "login.failure", "acl.publish"... */
  readonly action: string;
  /** What was acted on: a destination, a client id, a user name. */
  readonly object?: string;
  /** Client address "ip:port". */
  readonly remote?: string;
  readonly protocol?: string;
  readonly clientId?: string;
  /** Reason, codes and the like. */
  readonly detail?: Record<string, unknown>;
  readonly before?: unknown;
  readonly after?: unknown;
}

/** A stored entry. */
export interface AuditEntry extends AuditRecord {
  readonly seq: number;
  /** `<alg>:<hex>` of the previous entry's hash and this entry's content. */
  readonly hash: string;
  readonly prevHash: string;
}

/** Query filter; every field optional. `user`, `action` and `object` match exactly or, ending in "*", by prefix. */
export interface AuditFilter {
  /** ms since the epoch, inclusive. */
  from?: number;
  /** ms since the epoch, exclusive. */
  to?: number;
  user?: string;
  action?: string;
  object?: string;
  kind?: AuditKind;
  /** Default 100, at most 1000. */
  limit?: number;
  /** From a previous page's `next`. */
  cursor?: string;
  /** Default "desc" (newest first). */
  order?: "asc" | "desc";
}

export interface AuditPage {
  readonly entries: AuditEntry[];
  /** Cursor of the next page; absent on the last page. */
  readonly next?: string;
}

/** Result of checking the chain from the first kept entry to the newest. */
export interface AuditVerdict {
  readonly ok: boolean;
  readonly checked: number;
  /** Sequence number of the first entry that does not verify. */
  readonly brokenAt?: number;
  readonly reason?: string;
  /** The newest entry: record it elsewhere to detect a truncated tail later. */
  readonly head?: { readonly seq: number; readonly hash: string };
}

export type ChainHash = "sha256" | "sm3";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, user TEXT, action TEXT NOT NULL,
  object TEXT, remote TEXT, protocol TEXT, client_id TEXT, detail TEXT, before TEXT, after TEXT,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
CREATE INDEX IF NOT EXISTS audit_user ON audit (user, seq);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action, seq);
CREATE INDEX IF NOT EXISTS audit_object ON audit (object, seq);
CREATE TABLE IF NOT EXISTS audit_prune (through INTEGER PRIMARY KEY, at INTEGER NOT NULL, anchor TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  WHEN old.seq > (SELECT COALESCE(MAX(through), 0) FROM audit_prune)
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: only entries past retention can go'); END;
CREATE TRIGGER IF NOT EXISTS audit_prune_no_update BEFORE UPDATE ON audit_prune
  BEGIN SELECT RAISE(ABORT, 'the audit prune record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_prune_no_delete BEFORE DELETE ON audit_prune
  BEGIN SELECT RAISE(ABORT, 'the audit prune record is append-only'); END;
`;

interface Row {
  seq: number;
  ts: number;
  kind: AuditKind;
  user: string | null;
  action: string;
  object: string | null;
  remote: string | null;
  protocol: string | null;
  client_id: string | null;
  detail: string | null;
  before: string | null;
  after: string | null;
  prev_hash: string;
  hash: string;
}

const encoder = new TextEncoder();
const HASHES: Record<ChainHash, (s: string) => string> = {
  sha256: (s) => createHash("sha256").update(s).digest("hex"),
  sm3: (s) => sm3Hex(encoder.encode(s)),
};

/** JSON text of a value, or null; values JSON cannot hold are kept as their string form. */
function json(v: unknown): string | null {
  if (v === undefined) return null;
  try {
    return JSON.stringify(v, (_k, x) => typeof x === "bigint" ? x.toString() : x) ?? null;
  } catch {
    return JSON.stringify({ unserializable: String(v) });
  }
}

/** The chained hash of one row: `<alg>:hex(H(prev_hash \n content))`. */
function chain(alg: ChainHash, r: Omit<Row, "hash">): string {
  const content = JSON.stringify([
    r.seq,
    r.ts,
    r.kind,
    r.user,
    r.action,
    r.object,
    r.remote,
    r.protocol,
    r.client_id,
    r.detail,
    r.before,
    r.after,
  ]);
  return `${alg}:${HASHES[alg](`${r.prev_hash}\n${content}`)}`;
}

function toEntry(r: Row): AuditEntry {
  const opt = <T>(v: T | null) => v ?? undefined;
  return {
    seq: r.seq,
    ts: r.ts,
    kind: r.kind,
    user: opt(r.user),
    action: r.action,
    object: opt(r.object),
    remote: opt(r.remote),
    protocol: opt(r.protocol),
    clientId: opt(r.client_id),
    detail: r.detail === null ? undefined : JSON.parse(r.detail),
    before: r.before === null ? undefined : JSON.parse(r.before),
    after: r.after === null ? undefined : JSON.parse(r.after),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** The append-only, hash-chained audit log in its own SQLite file. */
export class AuditLog {
  readonly #db: DatabaseSync;
  readonly #alg: ChainHash;
  readonly #insert: StatementSync;
  #pending: AuditRecord[] = [];
  #seq: number;
  #head: string;
  /** Transactions committed and entries written since open. */
  transactions = 0;
  written = 0;

  constructor(path: string, opts: { hash: ChainHash; synchronous: "NORMAL" | "FULL" }) {
    this.#alg = opts.hash;
    this.#db = new DatabaseSync(path);
    this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${opts.synchronous};`);
    this.#db.exec(SCHEMA);
    this.#insert = this.#db.prepare(
      `INSERT INTO audit (seq, ts, kind, user, action, object, remote, protocol, client_id, detail, before, after,
       prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const last = this.#db.prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").get() as
      | { seq: number; hash: string }
      | undefined;
    const pruned = this.#lastPrune();
    this.#seq = last?.seq ?? pruned?.through ?? 0;
    this.#head = last?.hash ?? pruned?.anchor ?? "";
  }

  /** Entries waiting for the next flush. */
  get pending(): number {
    return this.#pending.length;
  }

  append(r: AuditRecord): void {
    this.#pending.push(r);
  }

  /** Writes every pending entry in one transaction. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    let seq = this.#seq, head = this.#head;
    this.#db.exec("BEGIN");
    try {
      for (const r of batch) {
        const row: Omit<Row, "hash"> = {
          seq: ++seq,
          ts: r.ts,
          kind: r.kind,
          user: r.user ?? null,
          action: r.action,
          object: r.object ?? null,
          remote: r.remote ?? null,
          protocol: r.protocol ?? null,
          client_id: r.clientId ?? null,
          detail: json(r.detail),
          before: json(r.before),
          after: json(r.after),
          prev_hash: head,
        };
        head = chain(this.#alg, row);
        const { ts, kind, user, action, object, remote, protocol, client_id, detail, before, after } = row;
        this.#insert.run(
          seq,
          ts,
          kind,
          user,
          action,
          object,
          remote,
          protocol,
          client_id,
          detail,
          before,
          after,
          row.prev_hash,
          head,
        );
      }
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      this.#pending = batch.concat(this.#pending);
      throw e;
    }
    this.#seq = seq;
    this.#head = head;
    this.transactions++;
    this.written += batch.length;
  }

  query(f: AuditFilter = {}): AuditPage {
    const where: string[] = [], args: SQLInputValue[] = [];
    const desc = f.order !== "asc";
    if (f.from !== undefined) where.push("ts >= ?"), args.push(f.from);
    if (f.to !== undefined) where.push("ts < ?"), args.push(f.to);
    if (f.kind !== undefined) where.push("kind = ?"), args.push(f.kind);
    for (const [col, v] of [["user", f.user], ["action", f.action], ["object", f.object]] as const) {
      if (v === undefined) continue;
      if (v.endsWith("*")) {
        where.push(`${col} LIKE ? ESCAPE '\\'`);
        args.push(v.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`) + "%");
      } else {
        where.push(`${col} = ?`);
        args.push(v);
      }
    }
    if (f.cursor !== undefined) where.push(desc ? "seq < ?" : "seq > ?"), args.push(Number(f.cursor));
    const limit = Math.min(Math.max(1, f.limit ?? 100), 1000);
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq ${
      desc ? "DESC" : "ASC"
    } LIMIT ${limit + 1}`;
    const rows = this.#db.prepare(sql).all(...args) as unknown as Row[];
    const more = rows.length > limit;
    const entries = rows.slice(0, limit).map(toEntry);
    return more ? { entries, next: String(entries[entries.length - 1].seq) } : { entries };
  }

  /** Recomputes the chain from the first kept entry; the first break is reported. */
  verify(): AuditVerdict {
    const pruned = this.#lastPrune();
    let prev: string | undefined, expectSeq: number | undefined, checked = 0;
    let head: { seq: number; hash: string } | undefined;
    for (const r of this.#db.prepare("SELECT * FROM audit ORDER BY seq").iterate() as Iterable<Row>) {
      if (prev === undefined) {
        // The first kept entry links to the genesis (""), or to the anchor of the last prune.
        const [start, anchor] = pruned ? [pruned.through + 1, pruned.anchor] : [1, ""];
        if (r.seq !== start || r.prev_hash !== anchor) {
          return {
            ok: false,
            checked,
            brokenAt: r.seq,
            reason: "the first entry does not follow the last prune",
          };
        }
      } else if (r.seq !== expectSeq || r.prev_hash !== prev) {
        return { ok: false, checked, brokenAt: r.seq, reason: "an entry is missing before this one" };
      }
      const alg = r.hash.slice(0, r.hash.indexOf(":")) as ChainHash;
      if (!(alg in HASHES) || chain(alg, r) !== r.hash) {
        return { ok: false, checked, brokenAt: r.seq, reason: "the entry's content does not match its hash" };
      }
      prev = r.hash;
      expectSeq = r.seq + 1;
      head = { seq: r.seq, hash: r.hash };
      checked++;
    }
    return { ok: true, checked, head };
  }

  /** Removes entries older than `before` (ms); returns the prune record, or undefined when none were old. */
  prune(before: number): { through: number; anchor: string; removed: number } | undefined {
    this.flush();
    // Never the newest entry: the chain's head stays on disk.
    const last = this.#db.prepare(
      "SELECT seq, hash FROM audit WHERE ts < ? AND seq < ? ORDER BY seq DESC LIMIT 1",
    ).get(before, this.#seq) as { seq: number; hash: string } | undefined;
    if (!last) return undefined;
    this.#db.exec("BEGIN");
    try {
      this.#db.prepare("INSERT INTO audit_prune (through, at, anchor) VALUES (?, ?, ?)").run(
        last.seq,
        Date.now(),
        last.hash,
      );
      const { changes } = this.#db.prepare("DELETE FROM audit WHERE seq <= ?").run(last.seq);
      this.#db.exec("COMMIT");
      return { through: last.seq, anchor: last.hash, removed: Number(changes) };
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  close(): void {
    this.flush();
    this.#db.close();
  }

  #lastPrune(): { through: number; anchor: string } | undefined {
    return this.#db.prepare("SELECT through, anchor FROM audit_prune ORDER BY through DESC LIMIT 1").get() as
      | { through: number; anchor: string }
      | undefined;
  }
}
