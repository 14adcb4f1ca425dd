// Shared by the queue benchmarks: draining pre-filled jobs, and rotated rounds with medians.
import type { BenchResult } from './measure.js';

/** Drains `count` pre-filled jobs with a worker; returns jobs/s from the first to the last completion. */
export async function drain(
  name: string,
  count: number,
  fill: () => Promise<void>,
  startWorker: (onDone: () => void) => Promise<() => Promise<void>>,
): Promise<BenchResult> {
  await fill();
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => {
    resolve = r;
  });
  const started = performance.now();
  const stop = await startWorker(() => {
    if (++done === count) resolve();
  });
  await finished;
  const elapsed = performance.now() - started;
  await stop();
  return { name, ops: count, opsPerSec: count / (elapsed / 1000), p50Ms: 0, p99Ms: 0 };
}

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * Runs each scenario ROUNDS times, rotating the order so no scenario always goes first on a
 * shared machine, and keeps each one's median round.
 */
export async function rounds(scenarios: Array<() => Promise<BenchResult>>): Promise<BenchResult[]> {
  const runs: BenchResult[][] = scenarios.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < scenarios.length; k++) {
      const i = (k + r) % scenarios.length;
      runs[i]!.push(await scenarios[i]!());
    }
  }
  return runs.map((list) => list.sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(list.length / 2)]!);
}
