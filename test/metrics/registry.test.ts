// The metrics registry and its Prometheus text: names, escaping, histograms, callback gauges
// read at scrape time (bounded), and the cap on label sets. Standalone kits: no Redis needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, PROMETHEUS_CONTENT_TYPE, type Logger } from '../../src/index.js';
import { standaloneKit } from '../helpers/kit.js';
import { parsePrometheus, valueOf } from './parse.js';

function recordingLogger(): Logger & { warnings: Array<{ obj: object; msg?: string }> } {
  const warnings: Array<{ obj: object; msg?: string }> = [];
  return {
    warnings,
    debug() {},
    info() {},
    error() {},
    warn(obj, msg) {
      warnings.push({ obj, msg });
    },
  };
}

test('counters, gauges and histograms are written as valid Prometheus text 0.0.4', async () => {
  const kit = await standaloneKit();
  try {
    assert.equal(kit.metrics.contentType, PROMETHEUS_CONTENT_TYPE);
    assert.match(PROMETHEUS_CONTENT_TYPE, /^text\/plain; version=0\.0\.4/);
    const hits = kit.metrics.counter({ name: 'redkit_test_hits_total', help: 'Hits, with a backslash \\ and\na newline.', labelNames: ['namespace', 'layer'] });
    hits.inc({ namespace: 'users', layer: 'l1' });
    hits.labels({ namespace: 'users', layer: 'l2' }).inc(4);
    hits.inc({ namespace: 'weird "ns"\\\nx', layer: 'l1' }, 2);
    const members = kit.metrics.gauge({ name: 'redkit_test_members', help: 'Members.' });
    members.set(undefined, 7);
    members.labels({}).dec(2);
    const wait = kit.metrics.histogram({ name: 'redkit_test_wait_seconds', help: 'Wait.', labelNames: ['outcome'], buckets: [0.01, 0.1, 1] });
    wait.observe({ outcome: 'acquired' }, 0.005);
    wait.observe({ outcome: 'acquired' }, 0.05);
    wait.observe({ outcome: 'acquired' }, 5);
    const stop = wait.startTimer({ outcome: 'timeout' });
    assert.ok(stop() >= 0);

    const text = await kit.metrics.prometheus();
    const families = parsePrometheus(text);
    assert.equal(families.get('redkit_test_hits_total')?.type, 'counter');
    assert.equal(families.get('redkit_test_hits_total')?.help, 'Hits, with a backslash \\\\ and\\na newline.');
    assert.equal(valueOf(families, 'redkit_test_hits_total', { namespace: 'users', layer: 'l1' }), 1);
    assert.equal(valueOf(families, 'redkit_test_hits_total', { namespace: 'users', layer: 'l2' }), 4);
    assert.equal(valueOf(families, 'redkit_test_hits_total', { namespace: 'weird "ns"\\\nx' }), 2, 'label values round-trip through escaping');
    assert.equal(valueOf(families, 'redkit_test_members'), 5);
    assert.equal(families.get('redkit_test_wait_seconds')?.type, 'histogram');
    assert.equal(valueOf(families, 'redkit_test_wait_seconds_bucket', { outcome: 'acquired', le: '0.01' }), 1);
    assert.equal(valueOf(families, 'redkit_test_wait_seconds_bucket', { outcome: 'acquired', le: '0.1' }), 2);
    assert.equal(valueOf(families, 'redkit_test_wait_seconds_bucket', { outcome: 'acquired', le: '1' }), 2);
    assert.equal(valueOf(families, 'redkit_test_wait_seconds_bucket', { outcome: 'acquired', le: '+Inf' }), 3);
    assert.equal(valueOf(families, 'redkit_test_wait_seconds_count', { outcome: 'acquired' }), 3);
    assert.ok(Math.abs(valueOf(families, 'redkit_test_wait_seconds_sum', { outcome: 'acquired' })! - 5.055) < 1e-9);
    assert.equal(valueOf(families, 'redkit_test_wait_seconds_count', { outcome: 'timeout' }), 1);
  } finally {
    await kit.close();
  }
});

test('names and labels follow Prometheus conventions or are refused with a typed error', async () => {
  const kit = await standaloneKit();
  try {
    assert.throws(
      () => kit.metrics.counter({ name: 'redkit_hits', help: 'x' }),
      (err: unknown) => err instanceof InvalidArgumentError && /_total/.test(err.message),
    );
    assert.throws(() => kit.metrics.gauge({ name: 'redkit-bad', help: 'x' }), InvalidArgumentError);
    assert.throws(() => kit.metrics.gauge({ name: 'redkit_ok', help: 'x', labelNames: ['le'] }), InvalidArgumentError);
    assert.throws(() => kit.metrics.histogram({ name: 'redkit_h_seconds', help: 'x', buckets: [1, 0.5] }), InvalidArgumentError);
    const c = kit.metrics.counter({ name: 'redkit_c_total', help: 'x', labelNames: ['outcome'] });
    assert.equal(kit.metrics.counter({ name: 'redkit_c_total', help: 'x', labelNames: ['outcome'] }), c, 'registering again returns the same instrument');
    assert.throws(() => kit.metrics.gauge({ name: 'redkit_c_total', help: 'x' }), InvalidArgumentError);
    assert.throws(
      () => c.inc({ key: 'user:1' }),
      (err: unknown) => err instanceof InvalidArgumentError && /no label "key"/.test(err.message),
    );
  } finally {
    await kit.close();
  }
});

test('label sets past the cap are dropped, counted, and warned about once', async () => {
  const logger = recordingLogger();
  const kit = await standaloneKit({ logger });
  try {
    const c = kit.metrics.counter({ name: 'redkit_capped_total', help: 'x', labelNames: ['key'] });
    for (let i = 0; i < 1500; i++) c.inc({ key: `k${i}` });
    const families = parsePrometheus(await kit.metrics.prometheus());
    assert.equal(families.get('redkit_capped_total')!.samples.length, 1000, 'at most 1,000 label sets');
    assert.equal(valueOf(families, 'redkit_metrics_dropped_series_total', { metric: 'redkit_capped_total' }), 500);
    const warnings = logger.warnings.filter((w) => (w.obj as { metric?: string }).metric === 'redkit_capped_total');
    assert.equal(warnings.length, 1, 'one WARN, not one per dropped label set');
    c.inc({ key: 'k1' }, 2);
    assert.equal(valueOf(parsePrometheus(await kit.metrics.prometheus()), 'redkit_capped_total', { key: 'k1' }), 3, 'existing series still count');
  } finally {
    await kit.close();
  }
});

test('callback gauges are read at scrape time; a failing or hung one is left out, not zero', async () => {
  const kit = await standaloneKit();
  try {
    let depth = 3;
    let reads = 0;
    kit.metrics.gauge({
      name: 'redkit_test_depth',
      help: 'Depth.',
      labelNames: ['state'],
      collect: async () => {
        reads++;
        return [
          { labels: { state: 'waiting' }, value: depth },
          { labels: { state: 'active' }, value: 1 },
        ];
      },
    });
    kit.metrics.gauge({
      name: 'redkit_test_broken',
      help: 'Throws.',
      collect: () => {
        throw new Error('boom');
      },
    });
    kit.metrics.gauge({ name: 'redkit_test_hung', help: 'Never answers.', collect: () => new Promise<number>(() => {}) });
    let families = parsePrometheus(await kit.metrics.prometheus());
    assert.equal(valueOf(families, 'redkit_test_depth', { state: 'waiting' }), 3);
    assert.equal(valueOf(families, 'redkit_test_depth', { state: 'active' }), 1);
    depth = 9;
    const started = performance.now();
    families = parsePrometheus(await kit.metrics.prometheus());
    const elapsed = performance.now() - started;
    assert.equal(valueOf(families, 'redkit_test_depth', { state: 'waiting' }), 9, 'read again at the next scrape');
    assert.equal(reads, 2);
    assert.equal(families.get('redkit_test_broken')!.samples.length, 0, 'a throwing gauge has no sample');
    assert.equal(families.get('redkit_test_hung')!.samples.length, 0, 'a hung gauge has no sample');
    assert.ok(elapsed < 5000, `a hung gauge bounds the scrape (${elapsed.toFixed(0)} ms; bound 1 s)`);
    assert.equal(valueOf(families, 'redkit_metrics_collect_errors_total', { metric: 'redkit_test_hung' }), 2);
    assert.equal(valueOf(families, 'redkit_metrics_collect_errors_total', { metric: 'redkit_test_broken' }), 2);
  } finally {
    await kit.close();
  }
});

test('a disabled registry records nothing', async () => {
  const kit = await standaloneKit();
  try {
    const c = kit.metrics.counter({ name: 'redkit_off_total', help: 'x' });
    const series = c.labels({});
    kit.metrics.enabled = false;
    series.inc();
    c.inc();
    kit.metrics.enabled = true;
    series.inc();
    assert.equal(valueOf(parsePrometheus(await kit.metrics.prometheus()), 'redkit_off_total'), 1);
  } finally {
    await kit.close();
  }
});

test('queue-depth readings are shared by concurrent scrapes, cached for their ttl, and never cache a failure', async () => {
  const { cachedReading } = await import('../../src/metrics/instruments.js');
  let calls = 0;
  let fail = false;
  const read = cachedReading(async () => {
    calls++;
    if (fail) throw new Error('redis down');
    return calls;
  }, 200);
  assert.deepEqual(await Promise.all([read(), read(), read()]), [1, 1, 1], 'one call for three concurrent scrapes');
  assert.equal(await read(), 1, 'cached within the ttl');
  await new Promise((r) => setTimeout(r, 250));
  fail = true;
  await assert.rejects(read(), /redis down/);
  fail = false;
  assert.equal(await read(), 3, 'a failed read is not cached: the next scrape reads again');
});
