/**
 * All destinations, filtered by kind and name on the server (a plain GET form: it works before any
 * script loads and the filter is in the URL to share).
 *
 * @module
 */
import { Alert } from "../../components/Alert.tsx";
import { DataTable } from "../../components/DataTable.tsx";
import { Field } from "../../components/Field.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { formatNumber } from "../../lib/format.ts";
import { definePage, titled } from "../../lib/page.ts";
import { type Destination, destinationPath } from "../../lib/types.ts";

interface Data {
  list: Destination[];
  kind: string;
  q: string;
  deleted: string | null;
}

export default definePage<Data>({
  nav: "destinations",
  title: titled("nav.destinations"),
  async load({ api, url }) {
    const kind = url.searchParams.get("kind") ?? "";
    const q = url.searchParams.get("q") ?? "";
    const query = new URLSearchParams();
    if (kind === "queue" || kind === "topic") query.set("kind", kind);
    if (q) query.set("q", q);
    const list = await api.get<Destination[]>(`/destinations${query.size ? `?${query}` : ""}`);
    return { list, kind, q, deleted: url.searchParams.get("deleted") };
  },
  render({ list, kind, q, deleted }, { t }) {
    const filtered = kind !== "" || q !== "";
    return (
      <>
        <PageHeader title={t("nav.destinations")}>
          <a class="btn btn-primary" href="/destinations/new">{t("destinations.create")}</a>
        </PageHeader>
        {deleted && <Alert kind="success">{t("destinations.deleted", { name: deleted })}</Alert>}
        <form
          class="filters"
          method="get"
          action="/destinations"
          role="search"
          aria-label={t("destinations.filters")}
        >
          <Field id="filter-q" label={t("destinations.search")}>
            <input
              id="filter-q"
              name="q"
              type="search"
              value={q}
              placeholder={t("destinations.searchHint")}
            />
          </Field>
          <Field id="filter-kind" label={t("destinations.kind")}>
            <select id="filter-kind" name="kind">
              <option value="" selected={kind === ""}>{t("destinations.allKinds")}</option>
              <option value="queue" selected={kind === "queue"}>{t("kind.queue")}</option>
              <option value="topic" selected={kind === "topic"}>{t("kind.topic")}</option>
            </select>
          </Field>
          <div class="filter-actions">
            <button type="submit" class="btn">{t("destinations.applyFilter")}</button>
            {filtered && <a class="btn btn-ghost" href="/destinations">{t("destinations.clearFilter")}</a>}
          </div>
        </form>
        <DataTable
          caption={t("nav.destinations")}
          rows={list}
          rowKey={(d) => `${d.kind}:${d.name}`}
          empty={filtered ? t("destinations.noMatch") : t("destinations.none")}
          emptyHint={!filtered && <a href="/destinations/new">{t("destinations.createFirst")}</a>}
          columns={[
            {
              key: "name",
              label: t("destinations.name"),
              render: (d) => <a href={destinationPath(d.kind, d.name)}>{d.name}</a>,
            },
            {
              key: "kind",
              label: t("destinations.kind"),
              render: (d) => <span class={`badge badge-${d.kind}`}>{t(`kind.${d.kind}`)}</span>,
            },
            {
              key: "pending",
              label: t("destinations.pending"),
              numeric: true,
              render: (d) => formatNumber(d.pending),
            },
            {
              key: "inflight",
              label: t("destinations.inflight"),
              numeric: true,
              render: (d) => formatNumber(d.inflight),
            },
            { key: "consumers", label: t("destinations.consumers"), numeric: true },
            { key: "producers", label: t("destinations.producers"), numeric: true },
            {
              key: "enqueued",
              label: t("destinations.enqueued"),
              numeric: true,
              render: (d) => formatNumber(d.enqueued),
            },
            {
              key: "dequeued",
              label: t("destinations.dequeued"),
              numeric: true,
              render: (d) => formatNumber(d.dequeued),
            },
            {
              key: "durable",
              label: t("destinations.durable"),
              render: (d) => d.durable ? t("common.yes") : t("common.no"),
            },
          ]}
        />
      </>
    );
  },
});
