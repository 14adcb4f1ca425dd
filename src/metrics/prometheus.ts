import { Counter, Gauge, Histogram, type HistogramState, type GaugeReading, type Labels, type Metric, type MetricsRegistry, type Sample } from './registry.js';

/** The content type of the Prometheus text exposition format that `prometheus()` writes. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** HELP text: backslash and newline escaped (format 0.0.4). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

function formatLabels(labelNames: readonly string[], labels: Labels, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const name of labelNames) parts.push(`${name}="${escapeLabel(String(labels[name] ?? ''))}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** A callback gauge's reading, or `null` when it failed or took longer than `timeoutMs`. */
export async function readGauge(gauge: Metric<unknown>, timeoutMs: number): Promise<Sample[] | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const reading = await Promise.race<GaugeReading | null>([
      Promise.resolve().then(() => gauge.collect!()),
      new Promise<null>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, null);
      }),
    ]);
    if (reading === null) return null;
    return typeof reading === 'number' ? [{ labels: {}, value: reading }] : [...reading];
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes every metric of `registry` in the Prometheus text format 0.0.4. Callback gauges are read
 * now, in parallel, each bounded by `collectTimeoutMs`: one that fails or times out is left out of
 * this scrape (absent, not zero: a dashboard shows "no data" rather than a false 0) and counted in
 * `redkit_metrics_collect_errors_total`.
 */
export async function prometheusText(registry: MetricsRegistry, collectTimeoutMs: number): Promise<string> {
  const metrics = [...registry.metrics()];
  const readings = new Map<Metric<unknown>, Sample[] | null>();
  await Promise.all(
    metrics.map(async (metric) => {
      if (metric.collect) {
        const samples = await readGauge(metric, collectTimeoutMs);
        if (samples === null) registry.collectErrors.inc({ metric: metric.name });
        readings.set(metric, samples);
      }
    }),
  );
  const lines: string[] = [];
  for (const metric of metrics) {
    lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} ${metric.type}`);
    if (metric instanceof Histogram) {
      for (const { labels, state } of metric.series.values()) writeHistogram(lines, metric, labels, state);
    } else if (metric.collect) {
      for (const sample of readings.get(metric) ?? [])
        lines.push(`${metric.name}${formatLabels(metric.labelNames, sample.labels)} ${formatNumber(sample.value)}`);
    } else if (metric instanceof Counter || metric instanceof Gauge) {
      for (const { labels, state } of (metric as Metric<{ value: number }>).series.values())
        lines.push(`${metric.name}${formatLabels(metric.labelNames, labels)} ${formatNumber(state.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function writeHistogram(lines: string[], metric: Histogram, labels: Labels, state: HistogramState): void {
  let cumulative = 0;
  for (let i = 0; i < metric.buckets.length; i++) {
    cumulative += state.counts[i]!;
    lines.push(`${metric.name}_bucket${formatLabels(metric.labelNames, labels, ['le', formatNumber(metric.buckets[i]!)])} ${cumulative}`);
  }
  lines.push(`${metric.name}_bucket${formatLabels(metric.labelNames, labels, ['le', '+Inf'])} ${state.count}`);
  lines.push(`${metric.name}_sum${formatLabels(metric.labelNames, labels)} ${formatNumber(state.sum)}`);
  lines.push(`${metric.name}_count${formatLabels(metric.labelNames, labels)} ${state.count}`);
}
