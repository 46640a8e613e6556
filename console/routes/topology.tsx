/**
 * The live topology graph page.
 *
 * @module
 */
import { Island } from "../components/Island.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import TopologyGraph from "../islands/TopologyGraph.tsx";
import { definePage, titled } from "../lib/page.ts";
import type { Topology } from "../lib/types.ts";

export default definePage<Topology>({
  nav: "topology",
  title: titled("nav.topology"),
  load: ({ api }) => api.get<Topology>("/topology"),
  render(topology, { t }) {
    return (
      <>
        <PageHeader title={t("nav.topology")} subtitle={t("topology.subtitle")} />
        <section class="card">
          <Island component={TopologyGraph} props={{ initial: topology }} />
        </section>
      </>
    );
  },
});
