// The home page: every API and its stages, with cache status, size, entries, bytes used of the
// byte budget and hit ratio (counters refreshed every few seconds).

import { api } from './api.js';
import { h, notice, replace } from './dom.js';
import { formatBytes, formatCount, formatRatio, hitRatio, sizeLabel } from './format.js';

const REFRESH_MS = 2000;

export function stageHref(restApiId, stageName) {
  return `#/restapis/${encodeURIComponent(restApiId)}/stages/${encodeURIComponent(stageName)}`;
}

/** Renders into `root`; returns a function that stops the page's timers. */
export function renderStagesPage(root, { onApiError }) {
  const status = h('div', { class: 'page-status' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading APIs…'));
  replace(root, h('section', { class: 'page' }, h('h1', {}, 'APIs and stages'), status, body));

  const rows = new Map(); // "api\0stage" → cells to refresh
  let timer;
  let stopped = false;

  async function load() {
    const { item: restApis = [] } = await api.getRestApis();
    const stagesByApi = await Promise.all(restApis.map(async (restApi) => [restApi, (await api.getStages(restApi.id)).item ?? []]));
    if (stopped) return;
    if (restApis.length === 0) {
      replace(body, notice('info', 'No APIs yet. Add one to the config file, or import an OpenAPI document with ImportRestApi (POST /restapis?mode=import).'));
      return;
    }
    replace(body, stagesByApi.map(([restApi, stages]) => apiSection(restApi, stages)));
  }

  function apiSection(restApi, stages) {
    return h('section', { class: 'card', 'data-testid': `api-${restApi.id}` },
      h('h2', {}, restApi.name, ' ', h('code', { class: 'muted' }, restApi.id)),
      restApi.description ? h('p', { class: 'muted' }, restApi.description) : null,
      stages.length === 0
        ? h('p', { class: 'muted' }, 'No stages.')
        : h('table', { class: 'grid stack' },
          h('thead', {}, h('tr', {}, ['Stage', 'Cache', 'Size', 'Entries', 'Bytes used / budget', 'Hit ratio'].map((title) => h('th', {}, title)))),
          h('tbody', {}, stages.map((stage) => stageRow(restApi, stage)))));
  }

  function stageRow(restApi, stage) {
    // data-label names each cell where a narrow screen stacks the row (style.css).
    const cells = {
      entries: h('td', { class: 'num', 'data-testid': 'entries', 'data-label': 'Entries' }, '—'),
      bytes: h('td', { 'data-testid': 'bytes', 'data-label': 'Bytes used / budget' }, '—'),
      ratio: h('td', { class: 'num', 'data-testid': 'hit-ratio', 'data-label': 'Hit ratio' }, '—'),
    };
    rows.set(`${restApi.id}\u0000${stage.stageName}`, cells);
    return h('tr', { 'data-testid': `stage-row-${restApi.id}-${stage.stageName}` },
      h('td', { 'data-label': 'Stage' }, h('a', { href: stageHref(restApi.id, stage.stageName), 'data-testid': 'stage-link' }, stage.stageName)),
      h('td', { 'data-label': 'Cache' }, statusBadge(stage.cacheClusterStatus)),
      h('td', { 'data-testid': 'size', 'data-label': 'Size' }, stage.cacheClusterEnabled ? sizeLabel(stage.cacheClusterSize) : '—'),
      cells.entries, cells.bytes, cells.ratio);
  }

  async function refreshStats() {
    try {
      const stats = await api.stats();
      if (stopped) return;
      for (const stage of stats.stages) {
        const cells = rows.get(`${stage.restApiId}\u0000${stage.stageName}`);
        if (!cells) continue;
        cells.entries.textContent = stage.cacheClusterEnabled ? formatCount(stage.entries) : '—';
        replace(cells.bytes, stage.cacheClusterEnabled ? usageBar(stage.bytes, stage.capacityBytes) : '—');
        cells.ratio.textContent = formatRatio(hitRatio(stage.hits, stage.misses));
      }
      replace(status);
    } catch (error) {
      if (!stopped) replace(status, notice('error', `Live counters unavailable: ${error}`, 'stats-error'));
      onApiError(error);
    } finally {
      if (!stopped) timer = setTimeout(refreshStats, REFRESH_MS);
    }
  }

  load().then(refreshStats, (error) => {
    if (stopped) return;
    replace(body, notice('error', String(error), 'load-error'));
    onApiError(error);
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export function statusBadge(status) {
  const kind = status === 'AVAILABLE' ? 'on' : status === 'NOT_AVAILABLE' ? 'off' : 'busy';
  return h('span', { class: `badge ${kind}`, 'data-testid': 'cache-status' }, status ?? 'UNKNOWN');
}

export function usageBar(bytes, capacityBytes) {
  const share = capacityBytes > 0 ? Math.min(1, bytes / capacityBytes) : 0;
  return h('span', { class: 'usage', title: `${formatCount(bytes)} of ${formatCount(capacityBytes)} bytes` },
    h('span', { class: 'usage-text' }, `${formatBytes(bytes)} / ${formatBytes(capacityBytes)}`),
    h('meter', { min: '0', max: '1', value: String(share), high: '0.9' }));
}
