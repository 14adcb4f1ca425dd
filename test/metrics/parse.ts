// A strict reader of the Prometheus text format 0.0.4, written from the format's spec, so tests
// check what a real scraper would accept: one HELP and TYPE per family before its samples,
// escapes, label syntax, float values, cumulative histogram buckets and +Inf equal to _count.
import assert from 'node:assert/strict';

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  samples: ParsedSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '(?:[+-]?(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)|[+-]Inf|NaN)';
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL_NAME}=${LABEL_VALUE}(?:,${LABEL_NAME}=${LABEL_VALUE})*)?\\})? (${VALUE})$`);
const HELP = new RegExp(`^# HELP (${NAME}) ((?:[^\\\\\\n]|\\\\[\\\\n])*)$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const PAIR = new RegExp(`(${LABEL_NAME})=(${LABEL_VALUE})`, 'g');

function unescape(value: string): string {
  return value.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Parses `text` and asserts it is valid exposition; returns the families by name. */
export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families = new Map<string, ParsedFamily>();
  const seen = new Set<string>();
  let current: ParsedFamily | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    const help = HELP.exec(line);
    if (help) {
      assert.ok(!families.has(help[1]!), `one HELP per family: ${help[1]}`);
      current = { name: help[1]!, help: help[2]!, type: '', samples: [] };
      families.set(current.name, current);
      continue;
    }
    const type = TYPE.exec(line);
    if (type) {
      assert.equal(type[1], current?.name, `TYPE follows HELP of the same family: ${line}`);
      assert.equal(current!.type, '', `one TYPE per family: ${line}`);
      current!.type = type[2]!;
      continue;
    }
    const sample = SAMPLE.exec(line);
    assert.ok(sample, `valid sample line: ${JSON.stringify(line)}`);
    assert.ok(current?.type, `sample after its family's HELP and TYPE: ${line}`);
    const name = sample[1]!;
    const allowed = current.type === 'histogram' ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`] : [current.name];
    assert.ok(allowed.includes(name), `sample ${name} belongs to family ${current.name}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(PAIR)) {
      assert.ok(!(key! in labels), `label ${key} once in ${line}`);
      labels[key!] = unescape(value!);
    }
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(id), `series once: ${line}`);
    seen.add(id);
    current.samples.push({ name, labels, value: parseValue(sample[3]!) });
  }
  for (const family of families.values()) {
    if (family.type === 'counter') assert.match(family.name, /_total$/, `counter ${family.name} ends in _total`);
    if (family.type === 'histogram') checkHistogram(family);
  }
  return families;
}

function checkHistogram(family: ParsedFamily): void {
  const series = new Map<string, ParsedSample[]>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (!series.has(key)) series.set(key, []);
    series.get(key)!.push(sample);
    if (sample.name.endsWith('_bucket')) assert.ok(le !== undefined, `${sample.name} has le`);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name.endsWith('_count'));
    assert.ok(count && samples.some((s) => s.name.endsWith('_sum')), `${family.name} has _sum and _count`);
    let previousLe = -Infinity;
    let previous = 0;
    for (const bucket of buckets) {
      const le = parseValue(bucket.labels.le!);
      assert.ok(le > previousLe, `${family.name} buckets ascend`);
      assert.ok(bucket.value >= previous, `${family.name} buckets are cumulative`);
      previousLe = le;
      previous = bucket.value;
    }
    assert.equal(previousLe, Infinity, `${family.name} ends with le="+Inf"`);
    assert.equal(previous, count.value, `${family.name} +Inf bucket equals _count`);
  }
}

/** The value of the series of `name` whose labels include `labels`, or undefined. */
export function valueOf(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) return sample.value;
    }
  }
  return undefined;
}
