import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Registry } from 'prom-client';
import { CounterFamily, HistogramFamily } from '../../src/metrics/series.js';

describe('hot-path metric series', () => {
  it('expose counters and cumulative histogram buckets in the Prometheus text format', async () => {
    const registry = new Registry();
    const requests = new CounterFamily('x_requests_total', 'Requests.', ['route'], registry);
    const latency = new HistogramFamily('x_latency_seconds', 'Latency.', ['route'], [0.001, 0.01], registry);
    const counter = requests.series({ route: '/a' });
    const histogram = latency.series({ route: '/a' });
    counter.inc();
    counter.inc();
    for (const seconds of [0.0005, 0.005, 0.005, 2]) histogram.observe(seconds);
    const text = await registry.metrics();
    assert.match(text, /^# TYPE x_requests_total counter$/m);
    assert.match(text, /^x_requests_total\{route="\/a"\} 2$/m);
    assert.match(text, /^# TYPE x_latency_seconds histogram$/m);
    assert.match(text, /^x_latency_seconds_bucket\{route="\/a",le="0.001"\} 1$/m);
    assert.match(text, /^x_latency_seconds_bucket\{route="\/a",le="0.01"\} 3$/m);
    assert.match(text, /^x_latency_seconds_bucket\{route="\/a",le="\+Inf"\} 4$/m);
    assert.match(text, /^x_latency_seconds_count\{route="\/a"\} 4$/m);
    assert.match(text, /^x_latency_seconds_sum\{route="\/a"\} 2.0105$/m);
  });

  it('sum across processes the way prom-client aggregates cluster metrics', async () => {
    const make = (count: number) => {
      const registry = new Registry();
      const series = new CounterFamily('y_total', 'Y.', ['k'], registry).series({ k: 'v' });
      for (let i = 0; i < count; i++) series.inc();
      return registry.getMetricsAsJSON();
    };
    const merged = AggregatorRegistry.aggregate([await make(2), await make(3)]);
    assert.match(await merged.metrics(), /^y_total\{k="v"\} 5$/m);
  });
});
