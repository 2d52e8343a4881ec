/**
 * Counters and histograms for the hot path, registered in a prom-client Registry. prom-client
 * hashes the label set on every inc/observe (measured here: ~430 ns per counter inc, ~850 ns per
 * histogram observe — about 1.7 µs per cached request, 7% of a hit's budget); these hand out a
 * series object once per label set, whose inc/observe only add numbers. The registry reads them
 * at scrape time through the same `get()` shape prom-client's own metrics have, so text output,
 * cluster aggregation and JSON readers are unchanged.
 */
import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string | number>>;

interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

abstract class Family<S> {
  readonly aggregator = 'sum';
  protected readonly all: { labels: Labels; series: S }[] = [];

  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'histogram', readonly labelNames: readonly string[], registry: Registry) {
    registry.registerMetric(this as never);
  }

  /** The series of one label set; keep it: asking again makes another. */
  series(labels: Labels): S {
    const series = this.create();
    this.all.push({ labels, series });
    return series;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  protected abstract create(): S;
  protected abstract values(): MetricValue[];
  abstract reset(): void;
}

export class CounterSeries {
  value = 0;
  inc(): void {
    this.value++;
  }
}

export class CounterFamily extends Family<CounterSeries> {
  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, 'counter', labelNames, registry);
  }
  protected create(): CounterSeries {
    return new CounterSeries();
  }
  protected values(): MetricValue[] {
    return this.all.map(({ labels, series }) => ({ labels, value: series.value }));
  }
  reset(): void {
    for (const { series } of this.all) series.value = 0;
  }
}

export class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  constructor(name: string, help: string, labelNames: readonly string[], private readonly bounds: readonly number[], registry: Registry) {
    super(name, help, 'histogram', labelNames, registry);
  }
  protected create(): HistogramSeries {
    return new HistogramSeries(this.bounds);
  }
  protected values(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const { labels, series } of this.all) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += series.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    }
    return values;
  }
  reset(): void {
    for (const { series } of this.all) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
