/**
 * Places the topology graph: producers in the left column, destinations in the middle, consumers on
 * the right, each column ordered by d3-force so linked nodes sit level with each other and none overlap.
 * Deterministic (d3-force seeds its own random source), so the server's first frame and the browser's
 * agree; earlier positions are kept so a live update does not reshuffle the picture.
 *
 * @module
 */
// @ts-types="@types/d3-force"
import { forceCollide, forceLink, forceSimulation, forceX, forceY, type SimulationNodeDatum } from "d3-force";
import type { Topology, TopologyNode } from "./types.ts";

export const WIDTH = 960;
export const NODE_W = 176;
export const NODE_H = 36;
const ROW = 52;
const COLUMN_X: Record<TopologyNode["type"], number> = {
  producer: 110,
  destination: WIDTH / 2,
  consumer: WIDTH - 110,
};

export interface PlacedNode extends TopologyNode {
  x: number;
  y: number;
}

export interface Layout {
  height: number;
  nodes: PlacedNode[];
  edges: { from: PlacedNode; to: PlacedNode; rate: number }[];
}

type SimNode = TopologyNode & SimulationNodeDatum;

/** Lays `topology` out; `previous` positions (by node id) are where the simulation starts from. */
export function layoutTopology(topology: Topology, previous?: Map<string, { x: number; y: number }>): Layout {
  const perColumn = { producer: 0, destination: 0, consumer: 0 };
  for (const n of topology.nodes) perColumn[n.type]++;
  const height = Math.max(200, Math.max(...Object.values(perColumn)) * ROW + 40);
  const seen = { producer: 0, destination: 0, consumer: 0 };
  const nodes: SimNode[] = topology.nodes.map((n) => {
    const p = previous?.get(n.id);
    // New nodes start in their column, spread evenly, so the simulation has little to undo.
    const y = p?.y ?? (height / (perColumn[n.type] + 1)) * ++seen[n.type];
    return { ...n, x: COLUMN_X[n.type], y };
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const links = topology.edges
    .filter((e) => byId.has(e.from) && byId.has(e.to))
    .map((e) => ({ source: e.from, target: e.to, rate: e.rate }));
  const sim = forceSimulation(nodes)
    .force("x", forceX<SimNode>((n) => COLUMN_X[n.type]).strength(1))
    .force("y", forceY<SimNode>(height / 2).strength(0.02))
    .force(
      "link",
      forceLink<SimNode, { source: string; target: string }>(links).id((n) => n.id).strength(0.2),
    )
    .force("collide", forceCollide<SimNode>(ROW / 2))
    .stop();
  sim.tick(200);
  const placed = nodes.map((n): PlacedNode => ({
    id: n.id,
    type: n.type,
    label: n.label,
    x: COLUMN_X[n.type],
    y: Math.min(height - NODE_H, Math.max(NODE_H, n.y ?? height / 2)),
  }));
  const placedById = new Map(placed.map((n) => [n.id, n]));
  return {
    height,
    nodes: placed,
    edges: topology.edges
      .filter((e) => placedById.has(e.from) && placedById.has(e.to))
      .map((e) => ({ from: placedById.get(e.from)!, to: placedById.get(e.to)!, rate: e.rate })),
  };
}
