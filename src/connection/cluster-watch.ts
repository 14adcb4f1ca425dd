// What the connection watches on a Redis Cluster: each node connection (write corking, stalls)
// and which slot ranges have a master that answers. The connection turns the verdicts into its state.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../config/types.js';
import { RedisUnavailableError } from '../errors.js';
import { batchWritesPerTick } from './batching/write-batching.js';
import type { ClassifiedError } from './classify.js';
import { describeRanges, probeCluster, type SlotRange } from './cluster.js';
import { StallWatchdog, stallError } from './watchdog.js';

/** What the watch needs of its connection. */
export interface ClusterWatchHost {
  readonly stallMs: number;
  readonly logger: Logger;
  isClosed(): boolean;
  /** Asks for a probe soon (the connection runs one at a time). */
  requestProbe(): void;
  /** A node stalled: its error becomes the connection's last error. */
  onNodeError(error: ClassifiedError & { at: string }): void;
  /** ioredis announced a node connection (`node` event of the connection: metrics label its commands). */
  onNode(node: Redis): void;
}

/** One probe's outcome. */
export interface ClusterVerdict {
  /** Some master answered: calls to its slots work. */
  served: boolean;
  /** Slowest master's PING (ms), or null. */
  latency: number | null;
  /** CLUSTER_PARTIAL while some range has no answering master, else null. */
  error: (ClassifiedError & { at: string }) | null;
}

/**
 * Per-node corking and stall watchdogs (a paused node stalls only its own slots: its waiting
 * commands fail at once, the others go on), and the slot ranges left without an answering master.
 */
export class ClusterWatch {
  #unserved: SlotRange[] = [];
  #masters: string[] = [];
  readonly #watchdogs = new Map<Redis, StallWatchdog>();
  #probedAt = performance.now();

  /** Hooks the node connections of `cluster` as ioredis opens them. */
  attach(cluster: Cluster, host: ClusterWatchHost): void {
    cluster.on('+node', (node: Redis) => {
      batchWritesPerTick(node);
      const watchdog = new StallWatchdog(
        node,
        host.stallMs,
        (waitedMs) => this.#onNodeStall(node, watchdog, waitedMs, host),
        () => host.requestProbe(),
      );
      this.#watchdogs.set(node, watchdog);
      watchdog.start();
      node.on('ready', () => watchdog.clear());
      // A node's socket closing (killed, restarted) is news now, not at the next interval.
      node.on('close', () => {
        if (!host.isClosed() && cluster.status === 'ready') setImmediate(() => host.requestProbe());
      });
      host.onNode(node);
    });
    cluster.on('-node', (node: Redis) => {
      this.#watchdogs.get(node)?.stop();
      this.#watchdogs.delete(node);
    });
  }

  /**
   * True once per `intervalMs` (one PING per master: node streams come and go with the slot map),
   * and on every tick while the cluster is down or partly served.
   */
  probeDue(intervalMs: number, state: string): boolean {
    if (performance.now() - this.#probedAt < intervalMs && state === 'connected' && !this.partial) return false;
    this.#probedAt = performance.now();
    return true;
  }

  /** True while some slot range has no answering master (as of the last probe). */
  get partial(): boolean {
    return this.#unserved.length > 0;
  }

  /** `health().topology`'s cluster fields. */
  healthFields(): { masters: string[]; unservedSlots: string | null } {
    return { masters: [...this.#masters], unservedSlots: this.#unserved.length > 0 ? describeRanges(this.#unserved) : null };
  }

  /** PINGs every master of the slot map (bounded by `stallMs`) and logs when coverage changes. */
  async probe(cluster: Cluster, host: ClusterWatchHost): Promise<ClusterVerdict> {
    const view = await probeCluster(cluster, host.stallMs);
    this.#masters = view.masters;
    const wasPartial = this.#unserved.length > 0;
    this.#unserved = view.unserved;
    let error: ClusterVerdict['error'] = null;
    if (view.unserved.length > 0) {
      error = {
        reason: 'CLUSTER_PARTIAL',
        message: `Redis Cluster slots ${describeRanges(view.unserved)} have no master that answers`,
        hint: 'calls to other slots go on; ioredis refreshes the slot map every 5 s and follows a promoted replica — check the failed node (`npx redkit doctor`)',
        at: new Date().toISOString(),
      };
      if (!wasPartial) host.logger.warn({ reason: error.reason, unserved: describeRanges(view.unserved) }, `[Redis] ${error.message}`);
    } else if (wasPartial) {
      host.logger.info({ masters: view.masters.length }, '[Redis] Redis Cluster: every slot is served again');
    }
    // Some master answered (its PING set a latency).
    return { served: view.latency !== null, latency: view.latency, error };
  }

  /** Stops every node watchdog. */
  stop(): void {
    for (const watchdog of this.#watchdogs.values()) watchdog.stop();
    this.#watchdogs.clear();
  }

  /** A node stopped answering: its waiting commands fail now; the probe finds which slots it leaves unserved. */
  #onNodeStall(node: Redis, watchdog: StallWatchdog, waitedMs: number, host: ClusterWatchHost): void {
    const where = node.options.host ? `${node.options.host}:${node.options.port}` : 'a cluster node';
    const error = stallError(where, waitedMs, host.stallMs);
    host.onNodeError(error);
    host.logger.warn({ reason: error.reason, node: where, waitedMs }, `[Redis] Cluster node ${error.message}: its calls fail fast until it answers`);
    watchdog.rejectOutstanding(new RedisUnavailableError(`Redis command failed: ${error.message} — ${error.hint}`, 'TIMEOUT'));
    host.requestProbe();
  }
}
