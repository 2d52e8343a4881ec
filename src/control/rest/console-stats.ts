/**
 * `GET /console/api/stats`: what the web console charts, per API stage — cumulative hit and miss
 * counts (the page derives per-second rates), the stage cache's entries, bytes, byte budget and
 * evictions, and latency p50/p99 over the last few seconds, split into answers served from the
 * cache and answers that went to the integration.
 *
 * Everything is read from the metrics registry and the store when asked, so the data plane does no
 * extra work per request (STYLE.md practice 11). Authenticated and authorised like every admin
 * route (`apigateway:GET` on `arn:aws:apigateway:{region}::/console/api/stats`).
 */
import type { Gateway } from '../../gateway/gateway.js';
import { stageId } from '../../cache/store.js';
import { sendJson, type AdminRoute } from './route.js';

/** Latency percentiles cover this many seconds before the request (or since start, if shorter). */
const LATENCY_WINDOW_MS = 10_000;
/** Snapshots older than this are dropped; a few per second per open console is plenty. */
const HISTORY_MS = 60_000;
const MAX_SNAPSHOTS = 600;

/** Answers served without the integration vs. answers it produced (Cache-Status vocabulary). */
const SERVED_FROM_CACHE = new Set(['hit', 'stale', 'stale-if-error']);
export type LatencyGroup = 'cached' | 'forwarded';

export interface LatencySummary {
  /** Requests observed in the window. */
  count: number;
  /** Seconds, null when the window holds no request. */
  p50: number | null;
  p99: number | null;
}

export interface ConsoleStageStats {
  restApiId: string;
  stageName: string;
  cacheClusterEnabled: boolean;
  hits: number;
  misses: number;
  requests: number;
  entries: number;
  bytes: number;
  capacityBytes: number;
  evictions: number;
  latency: Record<LatencyGroup, LatencySummary>;
}

export interface ConsoleStats {
  /** Server time (epoch ms) the counters were read at. */
  time: number;
  latencyWindowSeconds: number;
  stages: ConsoleStageStats[];
}

/** Cumulative bucket counts per `api NUL stage NUL group`, aligned with `bounds`. */
interface Snapshot {
  time: number;
  buckets: Map<string, number[]>;
}

interface History {
  bounds: number[];
  snapshots: Snapshot[];
}

const histories = new WeakMap<Gateway, History>();

export const getConsoleStats: AdminRoute = {
  method: 'GET',
  path: '/console/api/stats',
  operation: 'GetConsoleStats',
  async handle({ gateway, res }) {
    sendJson(res, 200, await readConsoleStats(gateway));
  },
};

export const CONSOLE_API_ROUTES: readonly AdminRoute[] = [getConsoleStats];

export async function readConsoleStats(gateway: Gateway): Promise<ConsoleStats> {
  const time = Date.now();
  const { metrics } = gateway;
  const [hits, misses, requests, latency] = await Promise.all([
    metrics.cacheHits.get(), metrics.cacheMisses.get(), metrics.requests.get(), metrics.latency.get(),
  ]);
  const hitsByStage = sumByStage(hits.values);
  const missesByStage = sumByStage(misses.values);
  const requestsByStage = sumByStage(requests.values);
  const snapshot = latencySnapshot(time, latency.values);
  const history = remember(gateway, snapshot.bounds, snapshot.current);
  const base = baseline(history, time);

  const stages: ConsoleStageStats[] = [];
  for (const api of gateway.apis) {
    for (const [stageName, stage] of Object.entries(api.stages)) {
      const key = `${api.id}\u0000${stageName}`;
      const store = stage.cacheClusterEnabled ? gateway.store.stats(stageId(api.id, stageName)) : undefined;
      const summary = (group: LatencyGroup): LatencySummary => {
        const now = snapshot.current.buckets.get(`${key}\u0000${group}`);
        const before = base?.buckets.get(`${key}\u0000${group}`);
        return summarize(history.bounds, now, before);
      };
      stages.push({
        restApiId: api.id,
        stageName,
        cacheClusterEnabled: stage.cacheClusterEnabled,
        hits: hitsByStage.get(key) ?? 0,
        misses: missesByStage.get(key) ?? 0,
        requests: requestsByStage.get(key) ?? 0,
        entries: store?.entries ?? 0,
        bytes: store?.bytes ?? 0,
        capacityBytes: store?.capacityBytes ?? 0,
        evictions: store?.evictions ?? 0,
        latency: { cached: summary('cached'), forwarded: summary('forwarded') },
      });
    }
  }
  return { time, latencyWindowSeconds: LATENCY_WINDOW_MS / 1000, stages };
}

type MetricValue = { value: number; labels: Partial<Record<string, string | number>>; metricName?: string };

function sumByStage(values: readonly MetricValue[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const { labels, value } of values) {
    const key = `${labels.api}\u0000${labels.stage}`;
    sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return sums;
}

/** Cumulative `_bucket` counts of `cachegate_latency_seconds`, summed by api, stage and latency group. */
function latencySnapshot(time: number, values: readonly MetricValue[]): { bounds: number[]; current: Snapshot } {
  const boundSet = new Set<number>();
  const perBound = new Map<string, Map<number, number>>();
  for (const { labels, value, metricName } of values) {
    if (!metricName?.endsWith('_bucket')) continue;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    boundSet.add(le);
    const group: LatencyGroup = SERVED_FROM_CACHE.has(String(labels.cache)) ? 'cached' : 'forwarded';
    const key = `${labels.api}\u0000${labels.stage}\u0000${group}`;
    let counts = perBound.get(key);
    if (!counts) perBound.set(key, (counts = new Map()));
    counts.set(le, (counts.get(le) ?? 0) + value);
  }
  const bounds = [...boundSet].sort((a, b) => a - b);
  const buckets = new Map<string, number[]>();
  for (const [key, counts] of perBound) buckets.set(key, bounds.map((le) => counts.get(le) ?? 0));
  return { bounds, current: { time, buckets } };
}

function remember(gateway: Gateway, bounds: number[], snapshot: Snapshot): History {
  let history = histories.get(gateway);
  // Buckets are fixed at start; a different set (never expected) starts the history again.
  if (!history || history.bounds.join() !== bounds.join()) histories.set(gateway, (history = { bounds, snapshots: [] }));
  history.snapshots.push(snapshot);
  while (history.snapshots.length > MAX_SNAPSHOTS || (history.snapshots[0] && history.snapshots[0].time < snapshot.time - HISTORY_MS)) {
    history.snapshots.shift();
  }
  return history;
}

/** The newest snapshot at least LATENCY_WINDOW_MS old, else the oldest one before now. */
function baseline(history: History, now: number): Snapshot | undefined {
  let chosen: Snapshot | undefined;
  for (const snapshot of history.snapshots) {
    if (snapshot.time >= now) break;
    if (snapshot.time <= now - LATENCY_WINDOW_MS || chosen === undefined) chosen = snapshot;
  }
  return chosen;
}

/** p50 and p99 of the requests between two cumulative snapshots, interpolated within buckets as PromQL's histogram_quantile does. */
export function summarize(bounds: readonly number[], now: readonly number[] | undefined, before: readonly number[] | undefined): LatencySummary {
  if (!now) return { count: 0, p50: null, p99: null };
  const counts = now.map((count, i) => count - (before?.[i] ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return { count: 0, p50: null, p99: null };
  return { count: total, p50: quantile(0.5, bounds, counts, total), p99: quantile(0.99, bounds, counts, total) };
}

function quantile(q: number, bounds: readonly number[], cumulative: readonly number[], total: number): number {
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    // Past the last finite bucket there is no upper bound: answer the highest known one.
    if (upper === Infinity) return lower;
    const below = i === 0 ? 0 : cumulative[i - 1]!;
    const inBucket = cumulative[i]! - below;
    return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
  }
  return bounds[bounds.length - 2] ?? 0;
}
