/**
 * The dashboard: everything on it is live (islands/LiveDashboard.tsx); the server renders the first
 * frame from the API so the page is complete before any script runs.
 *
 * @module
 */
import { Island } from "../components/Island.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import LiveDashboard, { type DashboardData } from "../islands/LiveDashboard.tsx";
import { definePage, titled } from "../lib/page.ts";
import type { Destination, NodeInfo, Series, Stats } from "../lib/types.ts";

export default definePage<DashboardData>({
  nav: "dashboard",
  title: titled("nav.dashboard"),
  async load({ api }) {
    const [node, stats, series, queues] = await Promise.all([
      api.get<NodeInfo>("/node"),
      api.get<Stats>("/stats"),
      api.get<Series>("/stats/series"),
      api.get<Destination[]>("/destinations?kind=queue"),
    ]);
    return { node, stats, points: series.points, queues };
  },
  render(data, { t }) {
    return (
      <>
        <PageHeader title={t("nav.dashboard")} />
        <Island component={LiveDashboard} props={{ initial: data }} />
      </>
    );
  },
});
