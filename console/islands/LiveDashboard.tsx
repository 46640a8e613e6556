/**
 * The dashboard's live part: node status, totals, the rate trend, pending per queue and the TOP5
 * queues, fed by the admin API's event stream (stats every second, destinations every 2 s) and a node
 * refresh every 5 s for memory and listeners.
 *
 * @module
 */
/// <reference lib="dom" />
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { DataTable } from "../components/DataTable.tsx";
import { LiveBadge } from "../components/LiveBadge.tsx";
import { PendingChart } from "../components/PendingChart.tsx";
import { RateChart } from "../components/RateChart.tsx";
import { StatCard } from "../components/StatCard.tsx";
import { api } from "../lib/api.ts";
import { formatBytes, formatDuration, formatNumber } from "../lib/format.ts";
import { useT } from "../lib/i18n.ts";
import { useLiveEvents } from "../lib/live.ts";
import {
  type Destination,
  destinationPath,
  type NodeInfo,
  type SeriesPoint,
  type Stats,
} from "../lib/types.ts";

/** The trend keeps 5 minutes of 1-second points, like the API's series. */
const MAX_POINTS = 300;
const NODE_REFRESH_MS = 5000;

export interface DashboardData {
  node: NodeInfo;
  stats: Stats;
  points: SeriesPoint[];
  queues: Destination[];
}

export default function LiveDashboard({ initial }: { initial: DashboardData }) {
  const t = useT();
  const node = useSignal(initial.node);
  const stats = useSignal(initial.stats);
  const points = useSignal(initial.points);
  const queues = useSignal(initial.queues);

  const live = useLiveEvents({
    stats(data) {
      const s = data as Stats & { t: number };
      stats.value = s;
      points.value = [...points.value, s].slice(-MAX_POINTS);
    },
    destinations(data) {
      queues.value = (data as Destination[]).filter((d) => d.kind === "queue");
    },
  });

  useEffect(() => {
    const timer = setInterval(() => {
      api<NodeInfo>("/node").then((n) => node.value = n, () => {});
    }, NODE_REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  const n = node.value, s = stats.value;
  const top5 = [...queues.value].sort((a, b) => b.pending - a.pending).slice(0, 5);
  return (
    <div class="stack-lg">
      <div class="toolbar">
        <p class="subtitle">
          {t("dashboard.node", { id: n.nodeId, version: n.version })}
        </p>
        <LiveBadge state={live.value} />
      </div>
      <section aria-labelledby="overview-title">
        <h2 id="overview-title" class="sr-only">{t("dashboard.overview")}</h2>
        <dl class="cards">
          <StatCard
            label={t("dashboard.status")}
            value={t("dashboard.running")}
            tone="ok"
            hint={t("dashboard.uptime", { uptime: formatDuration(n.uptimeMs) })}
            testId="stat-status"
          />
          <StatCard
            label={t("dashboard.memory")}
            value={formatBytes(n.memory.rss)}
            hint={t("dashboard.heap", {
              used: formatBytes(n.memory.heapUsed),
              total: formatBytes(n.memory.heapTotal),
            })}
            testId="stat-memory"
          />
          <StatCard
            label={t("dashboard.connections")}
            value={formatNumber(s.connections)}
            hint={t("dashboard.destinations", { count: formatNumber(s.destinations) })}
            testId="stat-connections"
          />
          <StatCard
            label={t("dashboard.messagesIn")}
            value={formatNumber(s.messagesIn)}
            hint={t("dashboard.perSecond", { rate: formatNumber(s.enqueueRate, 1) })}
            testId="stat-messages-in"
          />
          <StatCard
            label={t("dashboard.messagesOut")}
            value={formatNumber(s.messagesOut)}
            hint={t("dashboard.perSecond", { rate: formatNumber(s.dequeueRate, 1) })}
            testId="stat-messages-out"
          />
          <StatCard
            label={t("dashboard.pending")}
            value={formatNumber(s.pending)}
            // Failed store writes refuse publishes: the card that shows the store says so.
            tone={s.storeFailures > 0 ? "warn" : undefined}
            hint={[
              t("dashboard.store", {
                size: formatBytes(n.store.sizeBytes),
                free: formatBytes(n.store.freeBytes),
              }),
              s.storeFailures > 0
                ? t("dashboard.storeFailures", { count: formatNumber(s.storeFailures) })
                : "",
            ].filter(Boolean).join(" · ")}
            testId="stat-pending"
          />
          <StatCard
            label={t("dashboard.loopLag")}
            value={`${formatNumber(n.eventLoopLagMs, 1)} ms`}
            tone={n.eventLoopLagMs > 100 ? "warn" : undefined}
            testId="stat-lag"
          />
        </dl>
      </section>
      <section class="card" aria-labelledby="trend-title">
        <h2 id="trend-title">{t("dashboard.trendTitle")}</h2>
        <RateChart points={points.value} />
      </section>
      <div class="grid-2">
        <section class="card" aria-labelledby="pending-title">
          <h2 id="pending-title">{t("dashboard.pendingTitle")}</h2>
          <PendingChart queues={queues.value} />
        </section>
        <section class="card" aria-labelledby="top5-title">
          <h2 id="top5-title">{t("dashboard.top5Title")}</h2>
          <DataTable
            caption={t("dashboard.top5Title")}
            rows={top5}
            rowKey={(q) => q.name}
            empty={t("dashboard.noQueues")}
            columns={[
              {
                key: "name",
                label: t("destinations.name"),
                render: (q) => <a href={destinationPath(q.kind, q.name)}>{q.name}</a>,
              },
              {
                key: "pending",
                label: t("destinations.pending"),
                numeric: true,
                render: (q) => formatNumber(q.pending),
              },
              { key: "consumers", label: t("destinations.consumers"), numeric: true },
              {
                key: "enqueued",
                label: t("destinations.enqueued"),
                numeric: true,
                render: (q) => formatNumber(q.enqueued),
              },
            ]}
          />
        </section>
      </div>
      <section class="card" aria-labelledby="listeners-title">
        <h2 id="listeners-title">{t("dashboard.listeners")}</h2>
        <DataTable
          caption={t("dashboard.listeners")}
          rows={n.listeners}
          rowKey={(l) => l.name}
          empty={t("dashboard.noListeners")}
          columns={[
            { key: "name", label: t("dashboard.listener") },
            { key: "protocol", label: t("dashboard.protocol") },
            { key: "transport", label: t("dashboard.transport") },
            { key: "port", label: t("dashboard.port"), numeric: true },
            { key: "connections", label: t("dashboard.connections"), numeric: true },
          ]}
        />
      </section>
    </div>
  );
}
