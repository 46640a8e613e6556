/**
 * Who is connected, what they produce to and what they consume, each connection closable.
 *
 * @module
 */
import { DataTable } from "../components/DataTable.tsx";
import { Ellipsis } from "../components/Ellipsis.tsx";
import { Island } from "../components/Island.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import CloseConnectionButton from "../islands/CloseConnectionButton.tsx";
import { formatNumber, formatTime } from "../lib/format.ts";
import { definePage, titled } from "../lib/page.ts";
import type { Connection, Consumer, Producer } from "../lib/types.ts";

interface Data {
  connections: Connection[];
  producers: Producer[];
  consumers: Consumer[];
}

export default definePage<Data>({
  nav: "connections",
  title: titled("nav.connections"),
  async load({ api }) {
    const [connections, producers, consumers] = await Promise.all([
      api.get<Connection[]>("/connections"),
      api.get<Producer[]>("/producers"),
      api.get<Consumer[]>("/consumers"),
    ]);
    return { connections, producers, consumers };
  },
  render({ connections, producers, consumers }, { t }) {
    return (
      <>
        <PageHeader title={t("nav.connections")}>
          <a class="btn" href="/connections">{t("browse.refresh")}</a>
        </PageHeader>
        <section class="card" aria-labelledby="connections-title">
          <h2 id="connections-title">{t("connections.title", { count: connections.length })}</h2>
          <DataTable
            caption={t("connections.caption")}
            rows={connections}
            rowKey={(c) => c.id}
            empty={t("connections.none")}
            columns={[
              {
                key: "clientId",
                label: t("connections.client"),
                render: (c) => <Ellipsis text={c.clientId} />,
              },
              { key: "protocol", label: t("connections.protocol") },
              { key: "remote", label: t("connections.remote") },
              {
                key: "user",
                label: t("connections.user"),
                render: (c) => c.user ?? t("connections.anonymous"),
              },
              { key: "connectedAt", label: t("connections.since"), render: (c) => formatTime(c.connectedAt) },
              { key: "subscriptions", label: t("connections.subscriptions"), numeric: true },
              {
                key: "messagesIn",
                label: t("connections.in"),
                numeric: true,
                render: (c) => formatNumber(c.messagesIn),
              },
              {
                key: "messagesOut",
                label: t("connections.out"),
                numeric: true,
                render: (c) => formatNumber(c.messagesOut),
              },
              {
                key: "actions",
                label: t("common.actions"),
                render: (c) => (
                  <Island component={CloseConnectionButton} props={{ id: c.id, client: c.clientId }} />
                ),
              },
            ]}
          />
        </section>
        <div class="grid-2">
          <section class="card" aria-labelledby="producers-title">
            <h2 id="producers-title">{t("connections.producers", { count: producers.length })}</h2>
            <DataTable
              caption={t("connections.producersCaption")}
              rows={producers}
              rowKey={(p) => `${p.connectionId}:${p.destination}`}
              empty={t("connections.noProducers")}
              columns={[
                {
                  key: "clientId",
                  label: t("connections.client"),
                  render: (c) => <Ellipsis text={c.clientId} />,
                },
                { key: "destination", label: t("connections.destination") },
                { key: "messages", label: t("connections.messages"), numeric: true },
                { key: "lastAt", label: t("connections.lastAt"), render: (p) => formatTime(p.lastAt) },
              ]}
            />
          </section>
          <section class="card" aria-labelledby="consumers-title">
            <h2 id="consumers-title">{t("connections.consumers", { count: consumers.length })}</h2>
            <DataTable
              caption={t("connections.consumersCaption")}
              rows={consumers}
              rowKey={(c) => c.id}
              empty={t("connections.noConsumers")}
              columns={[
                {
                  key: "clientId",
                  label: t("connections.client"),
                  render: (c) => <Ellipsis text={c.clientId} />,
                },
                { key: "destination", label: t("connections.destination") },
                { key: "selector", label: t("connections.selector"), render: (c) => c.selector ?? "–" },
                { key: "prefetch", label: t("connections.prefetch"), numeric: true },
                { key: "inflight", label: t("destinations.inflight"), numeric: true },
                { key: "delivered", label: t("connections.delivered"), numeric: true },
              ]}
            />
          </section>
        </div>
      </>
    );
  },
});
