/** docs/grafana-dashboard.json only queries metrics the gateway exports (SPEC §9), with labels they have. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GatewayMetrics } from '../../src/metrics/metrics.js';

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync('docs/grafana-dashboard.json', 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };

  it('queries only exported metric names and labels', async () => {
    const exported = new Map<string, Set<string>>();
    const { registry } = new GatewayMetrics(() => []);
    for (const metric of await registry.getMetricsAsJSON()) {
      const labelNames = (registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
      exported.set(metric.name, new Set(['le', ...labelNames]));
    }
    const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
    assert.ok(exprs.length >= 12);
    for (const { panel, expr } of exprs) {
      for (const [, name, selector] of expr.matchAll(/(cachegate_[a-z_]+)(\{[^}]*\})?/g)) {
        const family = [...exported.keys()].find((known) => known === name) ?? name!.replace(/_bucket$/, '');
        assert.ok(exported.has(family), `${panel}: unknown metric ${name}`);
        for (const [, label] of (selector ?? '').matchAll(/(\w+)=~?"/g)) assert.ok(exported.get(family)!.has(label!), `${panel}: ${family} has no label ${label}`);
      }
    }
    for (const required of ['cachegate_cache_hit_count_total', 'cachegate_cache_miss_count_total', 'cachegate_latency_seconds', 'cachegate_cache_entries',
      'cachegate_cache_bytes', 'cachegate_cache_evictions_total', 'cachegate_store_errors_total', 'cachegate_integration_errors_total']) {
      assert.ok(exprs.some(({ expr }) => expr.includes(required)), `no panel shows ${required}`);
    }
  });
});
