// The OpenTelemetry bridge, against the real @opentelemetry/api with its global MeterProvider
// set to a small hand-written provider that records what the bridge creates and reports (the
// SDK is not installed; the API's interfaces are what redkit codes against).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metrics as otelMetrics, type Meter, type MeterProvider, type ObservableCallback, type ObservableResult, type Attributes } from '@opentelemetry/api';
import { standaloneKit } from '../helpers/kit.js';

interface Created {
  kind: 'histogram' | 'observableCounter' | 'observableGauge';
  name: string;
  options: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } } | undefined;
  callbacks: ObservableCallback[];
  records: Array<{ value: number; attributes?: Attributes }>;
}

class RecordingMeterProvider implements MeterProvider {
  readonly meters: string[] = [];
  readonly created = new Map<string, Created>();
  getMeter(name: string): Meter {
    this.meters.push(name);
    const create = (kind: Created['kind']) => (instrument: string, options?: Created['options']) => {
      const entry: Created = { kind, name: instrument, options, callbacks: [], records: [] };
      this.created.set(instrument, entry);
      return {
        record: (value: number, attributes?: Attributes) => entry.records.push({ value, attributes }),
        addCallback: (cb: ObservableCallback) => entry.callbacks.push(cb),
        removeCallback: (cb: ObservableCallback) => entry.callbacks.splice(entry.callbacks.indexOf(cb), 1),
      };
    };
    return {
      createHistogram: create('histogram'),
      createObservableCounter: create('observableCounter'),
      createObservableGauge: create('observableGauge'),
    } as unknown as Meter;
  }
  /** What a metric reader would collect now from `name`'s callbacks. */
  async collect(name: string): Promise<Array<{ value: number; attributes?: Attributes }>> {
    const observed: Array<{ value: number; attributes?: Attributes }> = [];
    const result: ObservableResult = {
      observe: (value: number, attributes?: Attributes) => {
        observed.push({ value, attributes });
      },
    };
    for (const cb of this.created.get(name)?.callbacks ?? []) await cb(result);
    return observed;
  }
}

test('with a global MeterProvider set, every instrument is reported through meter "redkit"', async () => {
  const provider = new RecordingMeterProvider();
  assert.ok(otelMetrics.setGlobalMeterProvider(provider));
  const kit = await standaloneKit();
  try {
    assert.deepEqual(provider.meters, ['redkit'], 'the toolkit took meter "redkit" from the global provider at creation');
    const hits = kit.metrics.counter({ name: 'redkit_otel_hits_total', help: 'Hits.', labelNames: ['namespace'] });
    hits.inc({ namespace: 'users' }, 3);
    const wait = kit.metrics.histogram({ name: 'redkit_otel_wait_seconds', help: 'Wait.', labelNames: ['outcome'], buckets: [0.1, 1] });
    wait.labels({ outcome: 'acquired' }).observe(0.25);
    const members = kit.metrics.gauge({ name: 'redkit_otel_members', help: 'Members.' });
    members.set(undefined, 4);
    kit.metrics.gauge({ name: 'redkit_otel_depth', help: 'Depth.', labelNames: ['state'], collect: async () => [{ labels: { state: 'waiting' }, value: 12 }] });

    const counter = provider.created.get('redkit_otel_hits')!;
    assert.equal(counter.kind, 'observableCounter', 'counters are observable counters named without _total');
    assert.equal(counter.options?.description, 'Hits.');
    assert.deepEqual(await provider.collect('redkit_otel_hits'), [{ value: 3, attributes: { namespace: 'users' } }]);
    hits.inc({ namespace: 'users' });
    assert.deepEqual(await provider.collect('redkit_otel_hits'), [{ value: 4, attributes: { namespace: 'users' } }], 'cumulative, read at collection');

    const histogram = provider.created.get('redkit_otel_wait_seconds')!;
    assert.equal(histogram.kind, 'histogram');
    assert.equal(histogram.options?.unit, 's');
    assert.deepEqual(histogram.options?.advice?.explicitBucketBoundaries, [0.1, 1]);
    assert.deepEqual(histogram.records, [{ value: 0.25, attributes: { outcome: 'acquired' } }]);

    assert.equal(provider.created.get('redkit_otel_members')!.kind, 'observableGauge');
    assert.deepEqual(await provider.collect('redkit_otel_members'), [{ value: 4, attributes: {} }]);
    assert.equal(provider.created.get('redkit_otel_depth')!.kind, 'observableGauge', 'callback gauges are observable gauges');
    assert.deepEqual(await provider.collect('redkit_otel_depth'), [{ value: 12, attributes: { state: 'waiting' } }]);
  } finally {
    await kit.close();
    otelMetrics.disable();
  }
  assert.equal(provider.created.get('redkit_otel_hits')!.callbacks.length, 0, 'close() removes the callbacks');
});

test('without a MeterProvider nothing is bridged until useOpenTelemetry() is called', async () => {
  const kit = await standaloneKit();
  const provider = new RecordingMeterProvider();
  try {
    kit.metrics.counter({ name: 'redkit_late_total', help: 'Late.' }).inc();
    assert.equal(provider.meters.length, 0);
    assert.ok(otelMetrics.setGlobalMeterProvider(provider));
    assert.equal(kit.metrics.useOpenTelemetry(), true);
    assert.deepEqual(await provider.collect('redkit_late'), [{ value: 1, attributes: {} }], 'instruments registered before the bridge are reported too');
  } finally {
    await kit.close();
    otelMetrics.disable();
  }
});
