// Live charts with uPlot (served from the npm package, see static.ts). Each chart keeps the last
// WINDOW points; rates are derived from the cumulative counters of /console/api/stats.

const WINDOW = 120;

const PALETTE = { hits: '#1a7f37', misses: '#cf222e', cachedP50: '#1a7f37', cachedP99: '#4ac26b', forwardedP50: '#cf222e', forwardedP99: '#ff8182', evictions: '#9a6700' };

/**
 * A chart of several series over time. `series` is [{ label, color, dash? }]; push() appends a
 * sample (epoch seconds, values in series order; null leaves a gap).
 */
export function liveChart(container, { title, unit, series }) {
  const data = [[], ...series.map(() => [])];
  const width = () => Math.max(280, container.clientWidth - 8);
  const options = {
    title,
    width: width(),
    height: 200,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    // From 0, at least 0..1, so an idle chart shows a flat line at the bottom rather than a zoomed-in axis.
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max ?? 0, 1) * 1.1] } },
    axes: [{}, { label: unit, size: 60 }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: false, points: { show: false } }))],
  };
  const plot = typeof window.uPlot === 'function' ? new window.uPlot(options, data, container) : undefined;
  if (!plot) container.textContent = 'Charts unavailable (uPlot did not load).';
  const onResize = () => plot?.setSize({ width: width(), height: 200 });
  window.addEventListener('resize', onResize);
  return {
    push(time, values) {
      data[0].push(time);
      values.forEach((value, i) => data[i + 1].push(value));
      if (data[0].length > WINDOW) for (const column of data) column.shift();
      plot?.setData(data);
    },
    destroy() {
      window.removeEventListener('resize', onResize);
      plot?.destroy();
    },
  };
}

/** The stage page's three charts, fed one stats sample (this stage's) at a time. */
export function stageCharts(containers) {
  const traffic = liveChart(containers.traffic, {
    title: 'Hits and misses per second', unit: 'req/s',
    series: [{ label: 'hits/s', color: PALETTE.hits }, { label: 'misses/s', color: PALETTE.misses }],
  });
  const latency = liveChart(containers.latency, {
    title: 'Latency p50 / p99: cached vs. integration', unit: 'ms',
    series: [
      { label: 'cached p50', color: PALETTE.cachedP50 }, { label: 'cached p99', color: PALETTE.cachedP99, dash: [6, 4] },
      { label: 'integration p50', color: PALETTE.forwardedP50 }, { label: 'integration p99', color: PALETTE.forwardedP99, dash: [6, 4] },
    ],
  });
  const evictions = liveChart(containers.evictions, {
    title: 'Evictions per second', unit: 'entries/s',
    series: [{ label: 'evictions/s', color: PALETTE.evictions }],
  });
  let previous;
  const ms = (seconds) => (seconds === null || seconds === undefined ? null : seconds * 1000);
  return {
    /** Feeds a sample; returns the rates derived from the previous one (undefined for the first). */
    push(time, stage) {
      const seconds = time / 1000;
      let rates;
      if (previous && time > previous.time) {
        const elapsed = (time - previous.time) / 1000;
        // A counter that went down was reset (stage cache re-created): count from zero.
        const delta = (now, before) => (now >= before ? now - before : now) / elapsed;
        rates = { hits: delta(stage.hits, previous.stage.hits), misses: delta(stage.misses, previous.stage.misses), evictions: delta(stage.evictions, previous.stage.evictions) };
        traffic.push(seconds, [rates.hits, rates.misses]);
        evictions.push(seconds, [rates.evictions]);
      }
      const { cached, forwarded } = stage.latency;
      latency.push(seconds, [ms(cached.p50), ms(cached.p99), ms(forwarded.p50), ms(forwarded.p99)]);
      previous = { time, stage };
      return rates;
    },
    destroy() {
      traffic.destroy();
      latency.destroy();
      evictions.destroy();
    },
  };
}
