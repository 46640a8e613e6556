/**
 * The pending messages of a destination, a page at a time, filtered by a selector, without consuming
 * them. Reloads after a send or purge on the same page.
 *
 * @module
 */
/// <reference lib="dom" />
import { useEffect, useState } from "preact/hooks";
import { Alert } from "../components/Alert.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { Field, fieldAria } from "../components/Field.tsx";
import { api } from "../lib/api.ts";
import { onMessagesChanged } from "../lib/events.ts";
import { formatBytes, formatTime } from "../lib/format.ts";
import { useT } from "../lib/i18n.ts";
import { describeError, errorField } from "../lib/problem.ts";
import { type BrowsedMessage, destinationPath, type MessagePage } from "../lib/types.ts";

export const PAGE_SIZE = 20;
const PREVIEW_CHARS = 80;

function preview(m: BrowsedMessage): string {
  const text = m.encoding === "base64" ? `base64: ${m.body}` : m.body;
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

/** Everything about one browsed message, under its row. */
function MessageDetails({ message: m }: { message: BrowsedMessage }) {
  const t = useT();
  return (
    <dl class="kv">
      <dt>{t("browse.id")}</dt>
      <dd>
        <code>{m.id}</code>
      </dd>
      <dt>{t("browse.persistent")}</dt>
      <dd>{m.persistent ? t("common.yes") : t("common.no")}</dd>
      <dt>{t("browse.expires")}</dt>
      <dd>{m.expiresAt ? formatTime(m.expiresAt) : t("browse.never")}</dd>
      <dt>{t("browse.headers")}</dt>
      <dd>
        <pre>{JSON.stringify(m.headers, null, 2)}</pre>
      </dd>
      <dt>{t("browse.properties")}</dt>
      <dd>
        <pre>{JSON.stringify(m.properties, null, 2)}</pre>
      </dd>
      <dt>{m.encoding === "base64" ? `${t("browse.body")} (base64)` : t("browse.body")}</dt>
      <dd>
        <pre>{m.body}</pre>
      </dd>
    </dl>
  );
}

export default function MessageBrowser(
  { kind, name, initial }: { kind: string; name: string; initial: MessagePage },
) {
  const t = useT();
  const [page, setPage] = useState(initial);
  const [offset, setOffset] = useState(0);
  const [selector, setSelector] = useState("");
  const [error, setError] = useState<{ field: string | null; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());

  function toggle(id: string) {
    const next = new Set(expanded);
    if (!next.delete(id)) next.add(id);
    setExpanded(next);
  }

  async function load(nextOffset: number, nextSelector: string) {
    setBusy(true);
    try {
      const q = new URLSearchParams({ offset: String(nextOffset), limit: String(PAGE_SIZE) });
      if (nextSelector) q.set("selector", nextSelector);
      setPage(await api<MessagePage>(`${destinationPath(kind, name)}/messages?${q}`));
      setOffset(nextOffset);
      setSelector(nextSelector);
      setError(null);
    } catch (err) {
      setError({
        field: errorField(err, ["selector"], { invalid_selector: "selector" }),
        text: describeError(t, err),
      });
    } finally {
      setBusy(false);
    }
  }

  // Sends and purges elsewhere on the page change what is pending: show the first page again.
  useEffect(() => onMessagesChanged(() => load(0, selector)), [selector]);

  const selectorError = error?.field === "selector" ? error.text : null;
  const from = page.total === 0 ? 0 : offset + 1, to = Math.min(offset + PAGE_SIZE, page.total);
  return (
    <div class="stack">
      <form
        class="inline-form"
        role="search"
        aria-label={t("browse.filter")}
        onSubmit={(e) => {
          e.preventDefault();
          load(0, String(new FormData(e.currentTarget).get("selector") ?? "").trim());
        }}
      >
        <Field
          id="browse-selector"
          label={t("browse.selector")}
          hint={t("browse.selectorHint")}
          error={selectorError}
        >
          <input
            {...fieldAria("browse-selector", t("browse.selectorHint"), selectorError)}
            name="selector"
            defaultValue={selector}
            spellcheck={false}
            autocomplete="off"
          />
        </Field>
        <button type="submit" class="btn" disabled={busy}>{t("browse.apply")}</button>
        <button type="button" class="btn btn-ghost" disabled={busy} onClick={() => load(offset, selector)}>
          {t("browse.refresh")}
        </button>
      </form>
      {error && !error.field && <Alert kind="error">{error.text}</Alert>}
      <DataTable
        caption={t("browse.title")}
        rows={page.messages}
        rowKey={(m) => m.id}
        details={(m) => expanded.has(m.id) ? <MessageDetails message={m} /> : null}
        empty={kind === "topic" ? t("browse.topicEmpty") : selector ? t("browse.noMatch") : t("browse.empty")}
        columns={[
          {
            key: "id",
            label: t("browse.id"),
            render: (m) => <code class="id" title={m.id}>{m.id.slice(0, 12)}</code>,
          },
          { key: "timestamp", label: t("browse.time"), render: (m) => formatTime(m.timestamp) },
          { key: "priority", label: t("browse.priority"), numeric: true },
          { key: "size", label: t("browse.size"), numeric: true, render: (m) => formatBytes(m.size) },
          { key: "redeliveryCount", label: t("browse.redeliveries"), numeric: true },
          {
            key: "body",
            label: t("browse.body"),
            render: (m) => (
              <button
                type="button"
                class="link-button body-preview"
                aria-expanded={expanded.has(m.id)}
                aria-controls={expanded.has(m.id) ? `${m.id}-details` : undefined}
                onClick={() => toggle(m.id)}
              >
                {preview(m)}
              </button>
            ),
          },
        ]}
      />
      {page.total > 0 && (
        <nav class="pager" aria-label={t("browse.pages")}>
          <span data-testid="browse-range">{t("browse.range", { from, to, total: page.total })}</span>
          <button
            type="button"
            class="btn"
            disabled={busy || offset === 0}
            onClick={() => load(Math.max(0, offset - PAGE_SIZE), selector)}
          >
            {t("browse.previous")}
          </button>
          <button
            type="button"
            class="btn"
            disabled={busy || to >= page.total}
            onClick={() => load(offset + PAGE_SIZE, selector)}
          >
            {t("browse.next")}
          </button>
        </nav>
      )}
    </div>
  );
}
