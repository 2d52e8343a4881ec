// Number formatting for the console: bytes, ratios, latencies, rates.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // Number() drops trailing zeros: 512 MiB, 1.5 KiB.
  return `${unit === 0 ? value : Number(value.toFixed(value < 10 ? 2 : 1))} ${BYTE_UNITS[unit]}`;
}

export function formatCount(count) {
  return Number.isFinite(count) ? count.toLocaleString('en-US') : '—';
}

/** hits / (hits + misses) as a percentage, '—' before the first cacheable request. */
export function hitRatio(hits, misses) {
  const total = hits + misses;
  return total > 0 ? hits / total : null;
}

export function formatRatio(ratio) {
  return ratio === null ? '—' : `${(ratio * 100).toFixed(1)} %`;
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  return `${seconds.toFixed(2)} s`;
}

export function formatRate(perSecond) {
  return Number.isFinite(perSecond) ? `${perSecond.toFixed(perSecond < 10 ? 1 : 0)}/s` : '—';
}

/**
 * An AWS cacheClusterSize ("0.5", "1.6", … GB) in the unit the console shows budgets in: the
 * gateway budgets 0.5 as 0.5 × 2^30 bytes, so the label is GiB, matching "512 MiB" beside it.
 */
export function sizeLabel(size) {
  return `${size} GiB`;
}
