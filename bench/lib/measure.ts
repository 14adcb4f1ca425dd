/** One row of a benchmark table. */
export interface BenchResult {
  name: string;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `op` from `concurrency` concurrent loops for `durationMs` (after a short warm-up) and
 * measures every call's latency. `op(i)` gets a running index for key spreading.
 */
export async function measure(
  name: string,
  op: (i: number) => Promise<unknown>,
  options: { concurrency?: number; durationMs?: number; warmupMs?: number } = {},
): Promise<BenchResult> {
  const concurrency = options.concurrency ?? 100;
  const durationMs = options.durationMs ?? Number(process.env.BENCH_MS ?? 3000);
  const warmupMs = options.warmupMs ?? Math.min(500, durationMs / 4);
  let counter = 0;
  const runFor = async (ms: number, record: number[] | null) => {
    const end = performance.now() + ms;
    const loop = async () => {
      while (performance.now() < end) {
        const start = performance.now();
        await op(counter++);
        record?.push(performance.now() - start);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
  };
  await runFor(warmupMs, null);
  const latencies: number[] = [];
  const started = performance.now();
  await runFor(durationMs, latencies);
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { name, ops: latencies.length, opsPerSec: latencies.length / (elapsed / 1000), p50Ms: pct(0.5), p99Ms: pct(0.99) };
}

/** Prints results as a table with each row's ratio to `baseline` (by name). */
export function printTable(title: string, results: BenchResult[], baseline?: string): void {
  const base = results.find((r) => r.name === baseline);
  console.log(`\n## ${title}`);
  console.log(`${'scenario'.padEnd(44)} ${'ops/s'.padStart(12)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${base ? `  ratio vs ${base.name}` : ''}`);
  for (const r of results) {
    const ratio = base ? `  ${(r.opsPerSec / base.opsPerSec).toFixed(2)}×` : '';
    console.log(
      `${r.name.padEnd(44)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} ${r.p50Ms.toFixed(3).padStart(9)} ${r.p99Ms.toFixed(3).padStart(9)}${ratio}`,
    );
  }
}
