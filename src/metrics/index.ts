import type { Logger } from '../config/types.js';
import { RedkitEvents } from './events.js';
import { bridgeToOpenTelemetry, loadOtelApi, type OtelMeterProvider } from './otel.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from './prometheus.js';
import { MetricsRegistry, type Counter, type Gauge, type GaugeOptions, type Histogram, type HistogramOptions } from './registry.js';

export { RedkitEvents, REDKIT_EVENTS } from './events.js';
export type { RedkitEventMap, RedkitEventName, RedkitListener } from './events.js';
export { MetricsRegistry, Counter, Gauge, Histogram, DEFAULT_BUCKETS, DEFAULT_MAX_SERIES } from './registry.js';
export type { Labels, Sample, GaugeReading, MetricOptions, GaugeOptions, HistogramOptions, CounterSeries, GaugeSeries, HistogramSeries } from './registry.js';
export { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
export type { OtelMeter, OtelMeterProvider } from './otel.js';
export { operationChannel, traced, operationLabel, scriptLabel, labelCommand, labelClientCommands } from './spans.js';
export type { OperationLabel, OperationContext, LabelledCommandContext } from './spans.js';

/** Options of the toolkit's metrics. */
export interface MetricsOptions {
  logger: Logger;
  /** Cap on label sets per metric. Default 1,000. */
  maxSeries?: number;
  /** Bound on each callback gauge read at a scrape, in ms. Default 1,000. */
  collectTimeoutMs?: number;
  /**
   * OpenTelemetry: `true` (default) reports through the global MeterProvider of
   * `@opentelemetry/api` when the package is installed and a provider is set; `false` never;
   * or a MeterProvider to use.
   */
  openTelemetry?: boolean | OtelMeterProvider;
}

/**
 * `kit.metrics`: the one registry of the toolkit's counters, gauges and histograms (names
 * `redkit_…`), its Prometheus text, its OpenTelemetry bridge, and the `kit.on(…)` events.
 */
export class Metrics {
  /** The instruments; capabilities register theirs here, apps may add their own. */
  readonly registry: MetricsRegistry;
  /** The `kit.on(…)` hooks. */
  readonly events: RedkitEvents;
  /** The content type to serve `prometheus()` with. */
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  readonly #collectTimeoutMs: number;
  #stopOtel: (() => void) | null = null;

  constructor(opts: MetricsOptions) {
    this.registry = new MetricsRegistry({ logger: opts.logger, maxSeries: opts.maxSeries });
    this.events = new RedkitEvents(opts.logger);
    this.#collectTimeoutMs = opts.collectTimeoutMs ?? 1000;
    const otel = opts.openTelemetry ?? true;
    if (otel === true) {
      const provider = loadOtelApi()?.metrics.getMeterProvider();
      // The API's no-op provider means the app set none (yet): call useOpenTelemetry() after it does.
      if (provider && provider.constructor?.name !== 'NoopMeterProvider') this.useOpenTelemetry(provider);
    } else if (otel) {
      this.useOpenTelemetry(otel);
    }
  }

  /** When false, instruments record nothing (values kept); for measuring their cost. Default true. */
  get enabled(): boolean {
    return this.registry.enabled;
  }
  set enabled(value: boolean) {
    this.registry.enabled = value;
  }

  /** Registers (or returns) a counter; `name` ends in `_total`; with `collect`, totals are read at scrape time. */
  counter(opts: GaugeOptions): Counter {
    return this.registry.counter(opts);
  }

  /** Registers (or returns) a gauge; with `collect`, read at scrape time. */
  gauge(opts: GaugeOptions): Gauge {
    return this.registry.gauge(opts);
  }

  /** Registers (or returns) a histogram (default buckets: 0.5 ms to 10 s). */
  histogram(opts: HistogramOptions): Histogram {
    return this.registry.histogram(opts);
  }

  /** Every metric in the Prometheus text format 0.0.4; serve it with `contentType`. */
  prometheus(): Promise<string> {
    return prometheusText(this.registry, this.#collectTimeoutMs);
  }

  /**
   * Reports every instrument through OpenTelemetry meter `redkit` of `provider` (default: the
   * global one of `@opentelemetry/api`). Returns false when the package is not installed.
   * Call it after setting the global MeterProvider if that happens after `createRedkit()`.
   */
  useOpenTelemetry(provider?: OtelMeterProvider): boolean {
    const target = provider ?? loadOtelApi()?.metrics.getMeterProvider();
    if (!target) return false;
    this.#stopOtel?.();
    this.#stopOtel = bridgeToOpenTelemetry(this.registry, target, this.#collectTimeoutMs);
    return true;
  }

  /** Stops forwarding to OpenTelemetry (the toolkit calls it on close). */
  close(): void {
    this.#stopOtel?.();
    this.#stopOtel = null;
  }
}
