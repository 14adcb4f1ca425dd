// Every metric redkit itself records, in one place: names, help, labels, and the event each
// record also emits. Capabilities call these helpers with one line at each point that matters,
// so a reader finds the whole catalogue here and a capability's hunk stays small.
// Labels only ever carry bounded, code-defined values: capability, namespace, role, queue name,
// outcome, state, reason, close code class. Never a key, a lock name, a member or a room.
import type { Metrics } from './index.js';
import type { CounterSeries, HistogramSeries, Labels, Sample } from './registry.js';

/** How long a queue-depth reading serves scrapes: Prometheus scrapes every 15–60 s, dashboards more often. */
const QUEUE_DEPTH_CACHE_MS = 5000;

/** Lock waits: from an immediate grant to a wait of seconds. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * A reading cached for `ttlMs`, concurrent reads sharing one call: a scrape every few seconds
 * from several scrapers sends one BullMQ `getJobCounts` per queue per `ttlMs`, never one per
 * scrape per state.
 */
export function cachedReading<T>(read: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let value: Promise<T> | null = null;
  let at = 0;
  return () => {
    const now = Date.now();
    if (!value || now - at >= ttlMs) {
      at = now;
      const reading = read();
      value = reading;
      // A failed read is not cached: the next scrape tries again.
      reading.catch(() => {
        if (value === reading) value = null;
      });
    }
    return value;
  };
}

/** Connection: state, mode and PING gauges read at scrape time; state and mode changes, restarts, script latency. */
export function connectionMetrics(metrics: Metrics, read: { state(): string; mode(): string; latencyMs(): Promise<number | null> }) {
  const { events } = metrics;
  const oneHot = (value: string, label: string): Sample[] => [{ labels: { [label]: value }, value: 1 }];
  metrics.gauge({
    name: 'redkit_connection_state',
    help: 'Connection state (1 for the current state).',
    labelNames: ['state'],
    collect: () => oneHot(read.state(), 'state'),
  });
  metrics.gauge({
    name: 'redkit_mode',
    help: 'Toolkit mode (1 for the current mode: standalone, redis or degraded).',
    labelNames: ['mode'],
    collect: () => oneHot(read.mode(), 'mode'),
  });
  const modeChanges = metrics.counter({ name: 'redkit_mode_changes_total', help: 'Mode changes, by the mode entered.', labelNames: ['mode'] });
  const stateChanges = metrics.counter({
    name: 'redkit_connection_state_changes_total',
    help: 'Connection state changes, by the state entered.',
    labelNames: ['state'],
  });
  const restarts = metrics.counter({
    name: 'redkit_redis_restarts_total',
    help: "Redis restarts seen, by how: a new process (run_id) or redkit's data gone (marker).",
    labelNames: ['via'],
  });
  const scripts = metrics.histogram({
    name: 'redkit_script_duration_seconds',
    help: 'Round trip of redkit script calls (one EVALSHA, possibly batching several calls), by capability and operation.',
    labelNames: ['capability', 'operation'],
  });
  metrics.gauge({
    name: 'redkit_ping_seconds',
    help: 'Round trip of the last health PING (absent while disconnected).',
    collect: async () => {
      const ms = await read.latencyMs();
      return ms === null ? [] : ms / 1000;
    },
  });
  return {
    state(from: string, to: string): void {
      stateChanges.inc({ state: to });
      if (events.wants.state) events.emit('state', { from, to });
    },
    mode(from: 'standalone' | 'redis' | 'degraded', to: 'standalone' | 'redis' | 'degraded', cause?: string): void {
      modeChanges.inc({ mode: to });
      if (events.wants.mode) events.emit('mode', cause === undefined ? { from, to } : { from, to, cause });
    },
    restart(via: 'run_id' | 'marker'): void {
      restarts.inc({ via });
      if (events.wants.restart) events.emit('restart', { via });
    },
    /** Bound histogram series of one script's calls. */
    script(capability: string, operation: string) {
      return scripts.labels({ capability, operation });
    },
  };
}

/** What a cache namespace reports (its running totals, read at scrape time). */
export interface CacheTotals {
  hits: number;
  misses: number;
  staleServes: number;
  loads: number;
  loadErrors: number;
  l1Hits: number;
  coalesced: number;
}

/**
 * Cache: the namespaces' running totals (`stats()`) exposed as counters read at scrape time, so
 * a cache read pays nothing for metrics. Its events (`hit`, `miss`, `load`) are emitted by the
 * cache itself, where the key is at hand.
 */
export function cacheMetrics(metrics: Metrics, totals: () => Record<string, CacheTotals>): void {
  const counters: Array<[keyof CacheTotals, string, string]> = [
    ['hits', 'redkit_cache_hits_total', 'Cache reads that found a fresh value (L1 or store), per namespace; stale serves are counted apart.'],
    ['misses', 'redkit_cache_misses_total', 'Cache reads that found nothing, per namespace.'],
    ['staleServes', 'redkit_cache_stale_serves_total', 'Reads served a stale value (within grace, or while the store failed), per namespace.'],
    ['loads', 'redkit_cache_loads_total', 'Loader runs, per namespace.'],
    ['loadErrors', 'redkit_cache_load_errors_total', 'Loader runs that threw, per namespace.'],
    ['coalesced', 'redkit_cache_coalesced_loads_total', "Callers that shared another caller's load instead of running the loader, per namespace."],
    ['l1Hits', 'redkit_cache_l1_hits_total', 'Hits served from the in-process L1 tier, per namespace.'],
  ];
  for (const [field, name, help] of counters) {
    metrics.counter({
      name,
      help,
      labelNames: ['namespace'],
      collect: () => Object.entries(totals()).map(([namespace, t]) => ({ labels: { namespace }, value: t[field] })),
    });
  }
}

/** Why an acquire did not grant: `busy` (no wait), `timeout` (waited), `aborted`, `guard` (restart guard), `unavailable`. */
export type LockRefusal = 'busy' | 'timeout' | 'aborted' | 'guard' | 'unavailable';

/** Locks (and semaphore slots and leader leases, by `kind`): outcomes, wait time, hand-offs, lost leases. */
export function lockMetrics(metrics: Metrics) {
  const acquisitions = metrics.counter({
    name: 'redkit_lock_acquisitions_total',
    help: 'Acquire calls by kind (lock, sem, leader) and outcome (acquired, busy, timeout, aborted, guard, unavailable).',
    labelNames: ['kind', 'outcome'],
  });
  const wait = metrics.histogram({
    name: 'redkit_lock_wait_seconds',
    help: 'Time from an acquire call to its outcome, by kind and outcome.',
    labelNames: ['kind', 'outcome'],
    buckets: WAIT_BUCKETS,
  });
  const handoffs = metrics.counter({
    name: 'redkit_lock_handoffs_total',
    help: 'Grants handed to a queued waiter by a release (no extra round trip), by kind.',
    labelNames: ['kind'],
  });
  const lost = metrics.counter({
    name: 'redkit_lock_lost_total',
    help: 'Held leases lost (ran out, or an extension found them taken) before release, by kind.',
    labelNames: ['kind'],
  });
  // Bound once per (kind, outcome): the acquire path pays two additions, no label lookup.
  const bound = new Map<string, readonly [CounterSeries, HistogramSeries]>();
  const series = (kind: string, outcome: string) => {
    const key = `${kind}:${outcome}`;
    let found = bound.get(key);
    if (!found) bound.set(key, (found = [acquisitions.labels({ kind, outcome }), wait.labels({ kind, outcome })] as const));
    return found;
  };
  const { events } = metrics;
  return {
    acquired(kind: string, name: string, waitedMs: number, handoff: boolean): void {
      const [count, seconds] = series(kind, 'acquired');
      count.inc();
      seconds.observe(waitedMs / 1000);
      if (handoff) handoffs.inc({ kind });
      if (events.wants.lockAcquired) events.emit('lockAcquired', { kind, name, waitedMs });
    },
    refused(kind: string, name: string, reason: LockRefusal, waitedMs: number): void {
      const [count, seconds] = series(kind, reason);
      count.inc();
      seconds.observe(waitedMs / 1000);
      if (events.wants.lockRefused) events.emit('lockRefused', { kind, name, reason, waitedMs });
    },
    lost(kind: string, name: string): void {
      lost.inc({ kind });
      if (events.wants.lockLost) events.emit('lockLost', { kind, name });
    },
  };
}

/** Leader election: elections and revocations per role (roles are code-defined), who leads now. */
export function leaderMetrics(metrics: Metrics) {
  const elections = metrics.counter({ name: 'redkit_leader_elections_total', help: 'Times this instance became leader, per role.', labelNames: ['role'] });
  const revocations = metrics.counter({
    name: 'redkit_leader_revocations_total',
    help: 'Times this instance stopped leading, per role and reason (resigned, lost).',
    labelNames: ['role', 'reason'],
  });
  const leading = metrics.gauge({ name: 'redkit_leader_leading', help: '1 while this instance leads the role.', labelNames: ['role'] });
  const { events } = metrics;
  return {
    elected(role: string): void {
      elections.inc({ role });
      leading.set({ role }, 1);
      if (events.wants.elected) events.emit('elected', { role });
    },
    /** `resigned`: an orderly resign or close; otherwise the lease was lost (`reason` says how). */
    revoked(role: string, resigned: boolean, reason: string): void {
      revocations.inc({ role, reason: resigned ? 'resigned' : 'lost' });
      leading.set({ role }, 0);
      if (events.wants.revoked) events.emit('revoked', { role, resigned, reason });
    },
  };
}

/** Rate limits: decisions by outcome and by what decided (`redis`, `memory`, `local`, `policy`). */
export function rateLimitMetrics(metrics: Metrics) {
  const decisions = metrics.counter({
    name: 'redkit_ratelimit_decisions_total',
    help: 'Rate-limit decisions, by outcome (allowed, limited) and by what decided them.',
    labelNames: ['outcome', 'decided_by'],
  });
  // Bound per decider, [allowed, limited]: a decision pays one map read and one addition.
  const bound = new Map<string, readonly [CounterSeries, CounterSeries]>();
  const { events } = metrics;
  return {
    /** `key` is the limiter-prefixed key (`<limiter>:<key>`): for the event only, never a label. */
    decided(key: string, allowed: boolean, decidedBy: string, retryAfterMs: number): void {
      let series = bound.get(decidedBy);
      if (!series)
        bound.set(
          decidedBy,
          (series = [
            decisions.labels({ outcome: 'allowed', decided_by: decidedBy }),
            decisions.labels({ outcome: 'limited', decided_by: decidedBy }),
          ] as const),
        );
      series[allowed ? 0 : 1].inc();
      if (!allowed && events.wants.limited) events.emit('limited', { key, decidedBy, retryAfterMs });
    },
  };
}

/** Queues: depth per state (read at scrape time through `depths`, cached) and handler outcomes. */
export function queueMetrics(metrics: Metrics, depths: () => Promise<Record<string, object>>) {
  const read = cachedReading(depths, QUEUE_DEPTH_CACHE_MS);
  metrics.gauge({
    name: 'redkit_queue_jobs',
    help: `Jobs in each queue by state (BullMQ getJobCounts: one script call per queue, cached ${QUEUE_DEPTH_CACHE_MS / 1000} s).`,
    labelNames: ['queue', 'state'],
    collect: async () => {
      const out: Sample[] = [];
      for (const [queue, counts] of Object.entries(await read())) {
        for (const [state, value] of Object.entries(counts)) if (typeof value === 'number') out.push({ labels: { queue, state } as Labels, value });
      }
      return out;
    },
  });
  const runs = metrics.counter({
    name: 'redkit_queue_jobs_processed_total',
    help: 'Job attempts this process ran, per queue and outcome (completed, failed: a failed attempt may be retried).',
    labelNames: ['queue', 'outcome'],
  });
  const { events } = metrics;
  return {
    /** Wraps a worker's handler so that each attempt's outcome is counted (and emitted as `job`). */
    counted<A extends unknown[], R>(queue: string, handler: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
      const completed = runs.labels({ queue, outcome: 'completed' });
      const failed = runs.labels({ queue, outcome: 'failed' });
      return (...args: A) =>
        Promise.resolve()
          .then(() => handler(...args))
          .then(
            (result) => {
              completed.inc();
              if (events.wants.job) events.emit('job', { queue, outcome: 'completed' });
              return result;
            },
            (err: unknown) => {
              failed.inc();
              if (events.wants.job) events.emit('job', { queue, outcome: 'failed' });
              throw err;
            },
          );
    },
  };
}

/** Durable job state: transitions by the status entered. */
export function jobMetrics(metrics: Metrics) {
  const transitions = metrics.counter({
    name: 'redkit_job_transitions_total',
    help: 'Durable job records entering a status, by status.',
    labelNames: ['status'],
  });
  const { events } = metrics;
  return {
    transition(id: string, kind: string, status: string): void {
      transitions.inc({ status });
      if (events.wants.jobState) events.emit('jobState', { id, kind, status });
    },
  };
}

/** Realtime presence: rooms and members of this instance, read at scrape time (absent until presence is used). */
export function presenceMetrics(metrics: Metrics, stats: () => { localRooms: number; localMembers: number; localConnections: number } | null): void {
  const read = (field: 'localRooms' | 'localMembers' | 'localConnections') => () => stats()?.[field] ?? [];
  metrics.gauge({ name: 'redkit_presence_rooms', help: 'Rooms with at least one member connected to this instance.', collect: read('localRooms') });
  metrics.gauge({ name: 'redkit_presence_members', help: 'Members (room, member pairs) connected to this instance.', collect: read('localMembers') });
  metrics.gauge({ name: 'redkit_presence_connections', help: 'Connections joined to rooms on this instance.', collect: read('localConnections') });
}

/** Open-connection counts of every gateway of one toolkit, summed by one gauge. */
const gatewaySources = new WeakMap<Metrics, Set<() => number>>();

/** WebSocket gateways: open connections (read at scrape time), connections opened and closes by code. */
export function gatewayMetrics(metrics: Metrics, openConnections: () => number) {
  let sources = gatewaySources.get(metrics);
  if (!sources) {
    const all = new Set<() => number>();
    gatewaySources.set(metrics, (sources = all));
    metrics.gauge({
      name: 'redkit_gateway_connections',
      help: "Open WebSocket connections of this instance's gateways.",
      collect: () => {
        let n = 0;
        for (const read of all) n += read();
        return n;
      },
    });
  }
  sources.add(openConnections);
  const opened = metrics.counter({ name: 'redkit_gateway_connections_opened_total', help: 'WebSocket connections accepted.' });
  const closes = metrics.counter({
    name: 'redkit_gateway_closes_total',
    help: 'WebSocket connections closed, by close code (standard codes and 4000–4099; others as "other").',
    labelNames: ['code'],
  });
  const { events } = metrics;
  return {
    opened(): void {
      opened.inc();
    },
    closed(code: number): void {
      closes.inc({ code: closeCode(code) });
      if (events.wants.gatewayClose) events.emit('gatewayClose', { code });
    },
    /** The gateway closed: its connections no longer count. */
    detach(): void {
      sources!.delete(openConnections);
    },
  };
}

/** Close codes a peer can choose freely (3000–4999) are folded to "other" unless redkit sends them. */
function closeCode(code: number): string {
  if ((code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4099)) return String(code);
  return 'other';
}
