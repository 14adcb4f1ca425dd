import type { Logger } from '../config/types.js';
import { InvalidArgumentError } from '../errors.js';

/** Label values of one series, by label name. Values must come from bounded sets (never keys or ids). */
export type Labels = Readonly<Record<string, string | number>>;

/** One value of a metric: its label values and the number. */
export interface Sample {
  labels: Labels;
  value: number;
}

/** What a callback gauge returns at scrape time: one number (no labels) or one sample per label set. */
export type GaugeReading = number | readonly Sample[];

/** Options every instrument takes. */
export interface MetricOptions {
  /** Full name, `redkit_…`, Prometheus conventions: `_total` for counters, base units (`_seconds`, `_bytes`). */
  name: string;
  /** One line saying what is measured (the HELP line). */
  help: string;
  /** Label names, in exposition order. Each must have a bounded set of values. */
  labelNames?: readonly string[];
}

/** Options of a histogram: upper bounds of its buckets, in the metric's unit (seconds for `_seconds`). */
export interface HistogramOptions extends MetricOptions {
  /** Ascending upper bounds; `+Inf` is implied. Default: latency buckets from 0.5 ms to 10 s. */
  buckets?: readonly number[];
}

/** Options of a gauge or counter; with `collect`, the value is read when metrics are scraped (queue depth, members). */
export interface GaugeOptions extends MetricOptions {
  /**
   * Called at scrape time; may be async (bounded by the registry's `collectTimeoutMs`). For a
   * counter it returns the running totals a capability already keeps (no cost per event).
   */
  collect?: () => GaugeReading | Promise<GaugeReading>;
}

/** Default histogram buckets, in seconds: Redis round trips (sub-millisecond) up to lock waits of seconds. */
export const DEFAULT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Default cap on label sets per metric: past it, new label sets are dropped with one WARN a minute. */
export const DEFAULT_MAX_SERIES = 1000;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const WARN_EVERY_MS = 60_000;

/** A bound counter series: `inc()` is one addition (capabilities bind their label sets once). */
export interface CounterSeries {
  inc(by?: number): void;
}
/** A bound gauge series. */
export interface GaugeSeries {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}
/** A bound histogram series. */
export interface HistogramSeries {
  /** Records one value in the metric's unit (seconds for `_seconds`). */
  observe(value: number): void;
}

/** What every instrument shares: name, help, label names, its series and the cap on them. */
export abstract class Metric<S> {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  /** Set on callback instruments: read at scrape time instead of recorded. */
  readonly collect?: GaugeOptions['collect'];
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Series by their label values joined with NUL (label values are never NUL in practice; escaped on output). */
  readonly series = new Map<string, { labels: Labels; state: S }>();
  readonly #registry: MetricsRegistry;
  #warnedAt = -Infinity;

  constructor(registry: MetricsRegistry, opts: MetricOptions) {
    if (!NAME.test(opts.name)) throw new InvalidArgumentError('name', `metric name "${opts.name}" must match ${NAME} (Prometheus naming)`);
    for (const label of opts.labelNames ?? []) {
      if (!LABEL.test(label) || label.startsWith('__') || label === 'le') {
        throw new InvalidArgumentError('labelNames', `label "${label}" of ${opts.name} must match ${LABEL}, not start with __ and not be "le"`);
      }
    }
    this.#registry = registry;
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
  }

  protected abstract initial(labels: Labels): S;

  /** The state of the series for `labels`, created on first use; `null` past the cap (dropped). */
  protected state(labels: Labels | undefined): S | null {
    const names = this.labelNames;
    let key = '';
    for (let i = 0; i < names.length; i++) key += (i ? '\0' : '') + String(labels?.[names[i]!] ?? '');
    const found = this.series.get(key);
    if (found) return found.state;
    if (labels) {
      for (const name of Object.keys(labels)) {
        if (!names.includes(name))
          throw new InvalidArgumentError('labels', `metric ${this.name} has no label "${name}" (labels: ${names.join(', ') || 'none'})`);
      }
    }
    if (this.series.size >= this.#registry.maxSeries) {
      this.#dropped();
      return null;
    }
    const own: Record<string, string> = {};
    for (const name of names) own[name] = String(labels?.[name] ?? '');
    const state = this.initial(own);
    this.series.set(key, { labels: own, state });
    return state;
  }

  #dropped(): void {
    this.#registry.droppedSeries.inc({ metric: this.name });
    const now = Date.now();
    if (now - this.#warnedAt < WARN_EVERY_MS) return;
    this.#warnedAt = now;
    this.#registry.logger.warn(
      { metric: this.name, maxSeries: this.#registry.maxSeries },
      '[redkit] metric has too many label sets; new ones are dropped (a label carries unbounded values such as keys or ids?)',
    );
  }

  /** Binds a label set once; the returned series updates without looking labels up again. */
  abstract labels(labels: Labels): unknown;
}

const NOOP_COUNTER: CounterSeries = { inc() {} };
const NOOP_GAUGE: GaugeSeries = { set() {}, inc() {}, dec() {} };
const NOOP_HISTOGRAM: HistogramSeries = { observe() {} };

/** Per-series state of a counter. */
export class CounterState implements CounterSeries {
  value = 0;
  constructor(readonly registry: MetricsRegistry) {}
  inc(by = 1): void {
    if (this.registry.enabled && by > 0) this.value += by;
  }
}

/** A monotonically increasing count (`redkit_…_total`); with `collect`, totals are read at scrape time. */
export class Counter extends Metric<CounterState> {
  readonly type = 'counter';
  override readonly collect: GaugeOptions['collect'];
  readonly #registry: MetricsRegistry;
  constructor(registry: MetricsRegistry, opts: GaugeOptions) {
    super(registry, opts);
    this.#registry = registry;
    this.collect = opts.collect;
  }
  protected initial(): CounterState {
    return new CounterState(this.#registry);
  }
  /** Adds `by` (default 1, negative ignored) to the series of `labels`. */
  inc(labels?: Labels, by = 1): void {
    this.state(labels)?.inc(by);
  }
  labels(labels: Labels): CounterSeries {
    return this.state(labels) ?? NOOP_COUNTER;
  }
}

/** Per-series state of a gauge. */
export class GaugeState implements GaugeSeries {
  value = 0;
  constructor(readonly registry: MetricsRegistry) {}
  set(value: number): void {
    if (this.registry.enabled) this.value = value;
  }
  inc(by = 1): void {
    if (this.registry.enabled) this.value += by;
  }
  dec(by = 1): void {
    if (this.registry.enabled) this.value -= by;
  }
}

/** A value that goes up and down; with `collect`, read at scrape time instead of set. */
export class Gauge extends Metric<GaugeState> {
  readonly type = 'gauge';
  override readonly collect: GaugeOptions['collect'];
  readonly #registry: MetricsRegistry;
  constructor(registry: MetricsRegistry, opts: GaugeOptions) {
    super(registry, opts);
    this.#registry = registry;
    this.collect = opts.collect;
  }
  protected initial(): GaugeState {
    return new GaugeState(this.#registry);
  }
  set(labels: Labels | undefined, value: number): void {
    this.state(labels)?.set(value);
  }
  labels(labels: Labels): GaugeSeries {
    return this.state(labels) ?? NOOP_GAUGE;
  }
}

/** Per-series state of a histogram: counts per bucket (not cumulative), sum and count. */
export class HistogramState implements HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly registry: MetricsRegistry,
    readonly metric: Histogram,
    readonly labelSet: Labels,
  ) {
    this.counts = new Array<number>(metric.buckets.length + 1).fill(0);
  }
  observe(value: number): void {
    if (!this.registry.enabled || !Number.isFinite(value)) return;
    const b = this.metric.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    this.metric.onObserve?.(value, this.labelSet);
  }
}

/** A distribution over fixed buckets (latencies in seconds). */
export class Histogram extends Metric<HistogramState> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  readonly #registry: MetricsRegistry;
  /** Set by the OpenTelemetry bridge: histograms have no observable form in OTel, so values are forwarded. */
  onObserve: ((value: number, labels: Labels) => void) | null = null;
  constructor(registry: MetricsRegistry, opts: HistogramOptions) {
    super(registry, opts);
    this.#registry = registry;
    const buckets = opts.buckets ?? DEFAULT_BUCKETS;
    for (let i = 0; i < buckets.length; i++) {
      if (!Number.isFinite(buckets[i]) || (i > 0 && buckets[i]! <= buckets[i - 1]!)) {
        throw new InvalidArgumentError('buckets', `buckets of ${opts.name} must be finite and strictly ascending`);
      }
    }
    this.buckets = buckets;
  }
  protected initial(labels: Labels): HistogramState {
    return new HistogramState(this.#registry, this, labels);
  }
  observe(labels: Labels | undefined, value: number): void {
    this.state(labels)?.observe(value);
  }
  labels(labels: Labels): HistogramSeries {
    return this.state(labels) ?? NOOP_HISTOGRAM;
  }
  /** Starts a timer; the returned function records the elapsed seconds. */
  startTimer(labels?: Labels): () => number {
    const series = this.state(labels);
    const start = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      series?.observe(seconds);
      return seconds;
    };
  }
}

/** Options of the registry. */
export interface RegistryOptions {
  logger: Logger;
  /** Cap on label sets per metric. Default 1,000. */
  maxSeries?: number;
}

/**
 * The one registry of the toolkit: every capability's instruments live here, and both the
 * Prometheus text and the OpenTelemetry bridge read it.
 */
export class MetricsRegistry {
  readonly logger: Logger;
  readonly maxSeries: number;
  /** When false, instruments keep their values but record nothing (for measuring their cost). */
  enabled = true;
  readonly #metrics = new Map<string, Metric<unknown>>();
  readonly #listeners = new Set<(metric: Metric<unknown>) => void>();
  /** Label sets refused by the cap, per metric. */
  readonly droppedSeries: Counter;
  /** Callback gauges that failed or timed out at a scrape, per metric. */
  readonly collectErrors: Counter;

  constructor(opts: RegistryOptions) {
    this.logger = opts.logger;
    this.maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    // Its own label (metric names) is bounded by the instruments the code defines.
    this.droppedSeries = this.counter({
      name: 'redkit_metrics_dropped_series_total',
      help: 'Label sets dropped because a metric reached its cap on label sets.',
      labelNames: ['metric'],
    });
    this.collectErrors = this.counter({
      name: 'redkit_metrics_collect_errors_total',
      help: 'Callback gauges that failed or timed out when read at a scrape (left out of that scrape).',
      labelNames: ['metric'],
    });
  }

  /** Every metric, in registration order. */
  metrics(): Iterable<Metric<unknown>> {
    return this.#metrics.values();
  }

  /** The metric named `name`, if registered. */
  get(name: string): Metric<unknown> | undefined {
    return this.#metrics.get(name);
  }

  /** Calls `fn` for each metric registered now and later (the OpenTelemetry bridge uses it). */
  onMetric(fn: (metric: Metric<unknown>) => void): () => void {
    for (const metric of this.#metrics.values()) fn(metric);
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Registers (or returns the existing) counter `name`; with `collect`, its totals are read at scrape time. */
  counter(opts: GaugeOptions): Counter {
    return this.#register(opts, 'counter', () => new Counter(this, opts)) as Counter;
  }

  /** Registers (or returns the existing) gauge `name`; with `collect` it is read at scrape time. */
  gauge(opts: GaugeOptions): Gauge {
    return this.#register(opts, 'gauge', () => new Gauge(this, opts)) as Gauge;
  }

  /** Registers (or returns the existing) histogram `name`. */
  histogram(opts: HistogramOptions): Histogram {
    return this.#register(opts, 'histogram', () => new Histogram(this, opts)) as Histogram;
  }

  #register(opts: MetricOptions, type: Metric<unknown>['type'], create: () => Metric<unknown>): Metric<unknown> {
    const existing = this.#metrics.get(opts.name);
    if (existing) {
      // Capabilities built twice (two caches, two limiters) share one instrument.
      const same = existing.type === type && existing.labelNames.join() === (opts.labelNames ?? []).join();
      if (!same)
        throw new InvalidArgumentError(
          'name',
          `metric ${opts.name} is already registered as a ${existing.type} with labels (${existing.labelNames.join(', ')})`,
        );
      return existing;
    }
    if (type === 'counter' && !opts.name.endsWith('_total'))
      throw new InvalidArgumentError('name', `counter ${opts.name} must end in _total (Prometheus convention)`);
    const metric = create();
    this.#metrics.set(opts.name, metric);
    for (const fn of this.#listeners) fn(metric);
    return metric;
  }
}
