/**
 * Every bridge to a peer broker: its connection state, counters and forward rules; a form adds one, and
 * those added here (not broker.json's) can be removed. Server-rendered: the admin API has no live feed of
 * bridges.
 *
 * @module
 */
import { type Column, DataTable } from "../components/DataTable.tsx";
import { Island } from "../components/Island.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import type { T } from "../lib/i18n.ts";
import { formatClock, formatNumber, formatTime } from "../lib/format.ts";
import { definePage, titled } from "../lib/page.ts";
import type { BridgeStatus } from "../lib/types.ts";
import AddBridgeForm from "../islands/AddBridgeForm.tsx";
import RemoveBridgeButton from "../islands/RemoveBridgeButton.tsx";

/** Connected, or reconnecting with when it tries next and why the last attempt failed. */
function BridgeState({ bridge: b, t }: { bridge: BridgeStatus; t: T }) {
  if (b.connected) return <span class="badge badge-ok">{t("bridges.connected")}</span>;
  return (
    <div class="bridge-state">
      <span class="badge badge-off">{t("bridges.reconnecting")}</span>
      {b.nextAttemptAt !== undefined && (
        <span class="muted">{t("bridges.nextAttempt", { time: formatClock(b.nextAttemptAt) })}</span>
      )}
      {b.lastError !== undefined && (
        <span class="bridge-error" title={formatTime(b.lastErrorAt)}>
          {t("bridges.lastError", { error: b.lastError })}
        </span>
      )}
    </div>
  );
}

/** Forwarded and pending: a bridge has them in total and per forward rule. */
function countColumns<R extends { forwarded: number; pending: number }>(t: T): Column<R>[] {
  return [
    {
      key: "forwarded",
      label: t("bridges.forwarded"),
      numeric: true,
      render: (r) => formatNumber(r.forwarded),
    },
    { key: "pending", label: t("bridges.pending"), numeric: true, render: (r) => formatNumber(r.pending) },
  ];
}

/** The bridge's forward rules: which local source feeds it through which queue. */
function Links({ bridge: b, t }: { bridge: BridgeStatus; t: T }) {
  return (
    <DataTable
      caption={t("bridges.linksCaption", { name: b.id })}
      rows={[...b.links]}
      rowKey={(l) => l.from}
      empty={t("bridges.noLinks")}
      columns={[
        { key: "from", label: t("bridges.link"), render: (l) => `${l.from} → ${l.queue}` },
        ...countColumns(t),
        {
          key: "lastRefusal",
          label: t("bridges.refused"),
          // The peer refusing this rule's messages (an ACL, a `$` name) while the bridge is connected.
          render: (l) =>
            l.lastRefusal === undefined ? "" : (
              <span class="bridge-error">
                {l.lastRefusal}
                {l.retryAt !== undefined && ` · ${t("bridges.retryAt", { time: formatClock(l.retryAt) })}`}
              </span>
            ),
        },
      ]}
    />
  );
}

export default definePage<BridgeStatus[]>({
  nav: "bridges",
  title: titled("nav.bridges"),
  load: ({ api }) => api.get<BridgeStatus[]>("/bridges"),
  render(bridges, { t }) {
    return (
      <>
        <PageHeader title={t("nav.bridges")} subtitle={t("bridges.count", { count: bridges.length })}>
          <a class="btn" href="/bridges">{t("browse.refresh")}</a>
        </PageHeader>
        <section class="card" aria-label={t("nav.bridges")}>
          <DataTable
            caption={t("bridges.caption")}
            rows={bridges}
            rowKey={(b) => b.id}
            empty={t("bridges.none")}
            emptyHint={t("bridges.noneHint")}
            details={(b) => <Links bridge={b} t={t} />}
            columns={[
              { key: "id", label: t("bridges.name") },
              {
                key: "peer",
                label: t("bridges.peer"),
                render: (b) => b.peerNodeId ? `${b.peer} (${b.peerNodeId})` : b.peer,
              },
              { key: "state", label: t("bridges.state"), render: (b) => <BridgeState bridge={b} t={t} /> },
              ...countColumns<BridgeStatus>(t),
              {
                key: "failures",
                label: t("bridges.failures"),
                numeric: true,
                render: (b) => formatNumber(b.failures),
              },
              {
                key: "origin",
                label: t("bridges.origin"),
                // broker.json's bridges change only there: no Remove for them.
                render: (b) =>
                  b.runtime
                    ? <Island component={RemoveBridgeButton} props={{ id: b.id }} />
                    : <span class="muted">{t("bridges.fromConfig")}</span>,
              },
            ]}
          />
        </section>
        <section class="card stack" aria-labelledby="add-bridge">
          <h2 id="add-bridge">{t("bridges.add")}</h2>
          <p class="muted">{t("bridges.addHint")}</p>
          <Island component={AddBridgeForm} props={{}} />
        </section>
      </>
    );
  },
});
