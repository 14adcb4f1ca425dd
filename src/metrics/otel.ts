import { createRequire } from 'node:module';
import { readGauge } from './prometheus.js';
import { Counter, Gauge, Histogram, type Labels, type Metric, type MetricsRegistry } from './registry.js';

// The slice of @opentelemetry/api this bridge uses, declared here so that redkit's types never
// name the package: it is an optional peer, absent from most installs.
interface OtelObservableResult {
  observe(value: number, attributes?: Labels): void;
}
type OtelCallback = (result: OtelObservableResult) => void | Promise<void>;
interface OtelObservable {
  addCallback(callback: OtelCallback): void;
  removeCallback(callback: OtelCallback): void;
}
interface OtelHistogram {
  record(value: number, attributes?: Labels): void;
}
interface OtelInstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}
/** The OpenTelemetry `Meter` methods the bridge calls. */
export interface OtelMeter {
  createHistogram(name: string, options?: OtelInstrumentOptions): OtelHistogram;
  createObservableCounter(name: string, options?: OtelInstrumentOptions): OtelObservable;
  createObservableGauge(name: string, options?: OtelInstrumentOptions): OtelObservable;
}
/** The OpenTelemetry `MeterProvider` shape: `metrics.getMeterProvider()` or the SDK's. */
export interface OtelMeterProvider {
  getMeter(name: string, version?: string): OtelMeter;
}
interface OtelApi {
  metrics: { getMeterProvider(): OtelMeterProvider };
}

let api: OtelApi | null | undefined;

/** `@opentelemetry/api` if the app has it installed, else `null` (loaded once, synchronously). */
export function loadOtelApi(): OtelApi | null {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
    } catch {
      api = null;
    }
  }
  return api;
}

/** The OTel name of a metric: Prometheus's `_total` dropped (OTel exporters add it back to counters). */
function otelName(name: string): string {
  return name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

/** UCUM unit from the base-unit suffix, as the OTel semantic conventions write them. */
function otelUnit(name: string): string | undefined {
  const base = otelName(name);
  if (base.endsWith('_seconds')) return 's';
  if (base.endsWith('_bytes')) return 'By';
  return undefined;
}

/**
 * Reports every instrument of `registry` (present and future) through `provider`'s meter
 * `redkit`: counters as observable counters and gauges as observable gauges, read at collection
 * time (no cost per increment); histograms forward each value, as OTel has no observable histogram.
 * Returns a function that stops reporting.
 */
export function bridgeToOpenTelemetry(registry: MetricsRegistry, provider: OtelMeterProvider, collectTimeoutMs: number, version?: string): () => void {
  const meter = provider.getMeter('redkit', version);
  const histograms: Histogram[] = [];
  const observed: Array<[OtelObservable, OtelCallback]> = [];
  const observe = (instrument: OtelObservable, callback: OtelCallback) => {
    instrument.addCallback(callback);
    observed.push([instrument, callback]);
  };
  // A callback instrument is read as at a scrape; a recorded one reports its series' values.
  const read =
    (metric: Counter | Gauge): OtelCallback =>
    async (result) => {
      if (metric.collect) {
        const samples = await readGauge(metric, collectTimeoutMs);
        if (samples === null) registry.collectErrors.inc({ metric: metric.name });
        for (const sample of samples ?? []) result.observe(sample.value, sample.labels);
        return;
      }
      for (const { labels, state } of (metric as Metric<{ value: number }>).series.values()) result.observe(state.value, labels);
    };
  const stop = registry.onMetric((metric: Metric<unknown>) => {
    const options: OtelInstrumentOptions = { description: metric.help, unit: otelUnit(metric.name) };
    if (metric instanceof Histogram) {
      const histogram = meter.createHistogram(otelName(metric.name), { ...options, advice: { explicitBucketBoundaries: [...metric.buckets] } });
      metric.onObserve = (value, labels) => histogram.record(value, labels);
      histograms.push(metric);
    } else if (metric instanceof Counter) {
      observe(meter.createObservableCounter(otelName(metric.name), options), read(metric));
    } else if (metric instanceof Gauge) {
      observe(meter.createObservableGauge(otelName(metric.name), options), read(metric));
    }
  });
  return () => {
    stop();
    for (const histogram of histograms) histogram.onObserve = null;
    for (const [instrument, callback] of observed) instrument.removeCallback(callback);
  };
}
