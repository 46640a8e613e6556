/**
 * Shapes of the admin API's answers (docs/admin-api.md) that the console reads.
 *
 * @module
 */
import type { SeriesPoint } from "../../plugins/admin/stats.ts";

// The admin plugin's own types for its statistics: one definition for the API and the pages that read it.
export type { NodeStats as Stats, SeriesPoint } from "../../plugins/admin/stats.ts";
// The bridge plugin's status, as GET /bridges answers it.
/** A bridge as the admin API lists it: its status, and whether it was added at runtime (removable). */
export type { BridgeView as BridgeStatus } from "../../plugins/admin/api/bridges.ts";

export interface User {
  username: string;
  roles: string[];
}

export interface Session {
  user: User;
  csrfToken: string;
  expiresAt: number;
}

export interface Listener {
  name: string;
  protocol: string;
  transport: string;
  port: number;
  hostname?: string;
  connections: number;
}

export interface NodeInfo {
  nodeId: string;
  version: string;
  uptimeMs: number;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number };
  eventLoopLagMs: number;
  store: { sizeBytes: number | null; freeBytes: number | null };
  listeners: Listener[];
}

export interface Series {
  intervalMs: number;
  points: SeriesPoint[];
}

export type DestinationKind = "queue" | "topic";

export interface Destination {
  name: string;
  kind: DestinationKind;
  pending: number;
  inflight: number;
  consumers: number;
  producers: number;
  enqueued: number;
  dequeued: number;
  durable: boolean;
  boundTo: string[];
  maxRedeliveries?: number;
  maxLength?: number;
}

export interface BrowsedMessage {
  id: string;
  destination: string;
  priority: number;
  persistent: boolean;
  timestamp: number;
  expiresAt: number | null;
  redeliveryCount: number;
  headers: Record<string, string>;
  properties: Record<string, unknown>;
  body: string;
  encoding?: "base64";
  size: number;
}

export interface MessagePage {
  total: number;
  messages: BrowsedMessage[];
}

export interface Connection {
  id: string;
  clientId: string;
  protocol: string;
  remote: string;
  listener: string;
  user: string | null;
  connectedAt: number;
  subscriptions: number;
  messagesIn: number;
  messagesOut: number;
}

export interface Consumer {
  id: string;
  connectionId: string;
  clientId: string;
  destination: string;
  kind: DestinationKind;
  queue: string;
  selector: string | null;
  prefetch: number;
  inflight: number;
  delivered: number;
}

export interface Producer {
  connectionId: string;
  clientId: string;
  destination: string;
  messages: number;
  lastAt: number;
}

export interface TopologyNode {
  id: string;
  type: "producer" | "destination" | "consumer";
  label: string;
}

export interface Topology {
  nodes: TopologyNode[];
  edges: { from: string; to: string; rate: number }[];
}

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

export interface LogRecord {
  t: number;
  level: LogLevel;
  plugin: string;
  msg: string;
  fields?: Record<string, unknown>;
}

export interface PluginInfo {
  id: string;
  name: string;
  version: string;
  description: string;
  enabled: boolean;
  options: unknown;
  manifest: unknown;
}

/** A destination's path under the API and the console: `/destinations/queue/orders`. */
export function destinationPath(kind: string, name: string): string {
  return `/destinations/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`;
}
