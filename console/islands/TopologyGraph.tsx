/**
 * The live topology: producers -> destinations -> consumers as an SVG graph (edge width grows with the
 * message rate), refreshed every 2 s, with the same edges as a list for screen readers.
 *
 * @module
 */
/// <reference lib="dom" />
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { EmptyState } from "../components/EmptyState.tsx";
import { api } from "../lib/api.ts";
import { formatNumber } from "../lib/format.ts";
import { useT } from "../lib/i18n.ts";
import { type Layout, layoutTopology, NODE_H, NODE_W, WIDTH } from "../lib/topology_layout.ts";
import type { Topology } from "../lib/types.ts";

const REFRESH_MS = 2000;
const MAX_LABEL = 22;

function short(label: string): string {
  return label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL - 1)}…` : label;
}

function edgePath(e: Layout["edges"][number]): string {
  const x1 = e.from.x + NODE_W / 2, x2 = e.to.x - NODE_W / 2, mid = (x1 + x2) / 2;
  return `M${x1},${e.from.y} C${mid},${e.from.y} ${mid},${e.to.y} ${x2 - 6},${e.to.y}`;
}

export default function TopologyGraph({ initial }: { initial: Topology }) {
  const t = useT();
  const [topology, setTopology] = useState(initial);
  const positions = useRef(new Map<string, { x: number; y: number }>());
  const layout = useMemo(() => {
    const l = layoutTopology(topology, positions.current);
    positions.current = new Map(l.nodes.map((n) => [n.id, n]));
    return l;
  }, [topology]);

  useEffect(() => {
    const timer = setInterval(() => api<Topology>("/topology").then(setTopology, () => {}), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  if (topology.nodes.length === 0) {
    return <EmptyState title={t("topology.empty")}>{t("topology.emptyHint")}</EmptyState>;
  }
  const labels = new Map(layout.nodes.map((n) => [n.id, n.label]));
  return (
    <div class="stack">
      <ul class="legend" aria-hidden="true">
        <li>
          <span class="swatch node-producer" />
          {t("topology.producer")}
        </li>
        <li>
          <span class="swatch node-destination" />
          {t("topology.destination")}
        </li>
        <li>
          <span class="swatch node-consumer" />
          {t("topology.consumer")}
        </li>
      </ul>
      <div class="graph-wrap">
        <svg
          class="topology"
          viewBox={`0 0 ${WIDTH} ${layout.height}`}
          role="img"
          aria-labelledby="topology-svg-title"
          data-testid="topology-graph"
        >
          <title id="topology-svg-title">
            {t("topology.summary", { nodes: layout.nodes.length, edges: layout.edges.length })}
          </title>
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 10 10"
              refX="8"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0,0 L10,5 L0,10 z" class="arrow" />
            </marker>
          </defs>
          {layout.edges.map((e) => (
            <g key={`${e.from.id}>${e.to.id}`} class="edge">
              <path
                d={edgePath(e)}
                stroke-width={1.5 + Math.min(5, Math.log10(1 + e.rate) * 2)}
                marker-end="url(#arrow)"
              />
              {e.rate > 0 && (
                <text x={(e.from.x + e.to.x) / 2} y={(e.from.y + e.to.y) / 2 - 6} class="edge-label">
                  {`${formatNumber(e.rate, 1)}/s`}
                </text>
              )}
            </g>
          ))}
          {layout.nodes.map((n) => (
            <g
              key={n.id}
              class={`node node-${n.type}`}
              transform={`translate(${n.x - NODE_W / 2},${n.y - NODE_H / 2})`}
            >
              <title>{n.label}</title>
              <rect width={NODE_W} height={NODE_H} rx="8" />
              <text x={NODE_W / 2} y={NODE_H / 2 + 4} text-anchor="middle">{short(n.label)}</text>
            </g>
          ))}
        </svg>
      </div>
      <details>
        <summary>{t("topology.asList")}</summary>
        <ul class="edge-list">
          {topology.edges.map((e) => (
            <li key={`${e.from}>${e.to}`}>
              {t("topology.edge", {
                from: labels.get(e.from) ?? e.from,
                to: labels.get(e.to) ?? e.to,
                rate: formatNumber(e.rate, 1),
              })}
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
