// What the connection watches on one server (single endpoint or the Sentinel master): write
// corking, the stall watchdog, the server's ROLE, and the PING probe. The connection owns the state.
import type { Redis } from 'ioredis';
import type { Logger, RedkitConfig } from '../config/types.js';
import { RedisUnavailableError } from '../errors.js';
import { batchWritesPerTick } from './batching/write-batching.js';
import { roleError, type ClassifiedError } from './classify.js';
import type { ConnectionState } from './health.js';
import { readRole, type ServerRole } from './sentinel.js';
import type { ServerWatch } from './server-identity.js';
import { StallWatchdog, stallError } from './watchdog.js';

type TimedError = ClassifiedError & { at: string };

/** What the watch needs of its connection. */
export interface SingleWatchHost {
  readonly config: RedkitConfig;
  readonly logger: Logger;
  readonly stallMs: number;
  readonly server: ServerWatch;
  isClosed(): boolean;
  state(): ConnectionState;
  lastError(): TimedError | null;
  setState(next: ConnectionState, error: TimedError | null): void;
  setLastError(error: TimedError): void;
  recordError(err: unknown): void;
  setLatency(ms: number | null): void;
  /** Something was read from Redis (a reply proves the connection alive). */
  heard(): void;
  /** When something was last read from Redis (performance.now()). */
  heardAt(): number;
  /** Asks for a probe (the connection runs one at a time). */
  requestProbe(): Promise<void>;
  /** Where commands go, for messages. */
  where(): string;
  /** A (re)connect succeeded: reset the retry count. */
  onReady(): void;
}

/**
 * One server: corked writes, one stall watchdog, and `ROLE` checked on every connect (a replica
 * or a sentinel port answers PING too: only a master makes the state `connected`).
 */
export class SingleWatch {
  #watchdog: StallWatchdog | null = null;
  #role: ServerRole | null = null;
  #roleOk = false;
  #master: string | null = null;
  #firstProbe: Promise<void> | null = null;
  #heardStream: unknown = null;

  /** `ROLE` of the server, or null when unknown. */
  get role(): ServerRole | null {
    return this.#role;
  }

  /** `host:port` the client is connected to, once known. */
  get master(): string | null {
    return this.#master;
  }

  /** The first probe after the first connect (health has a latency from the start). */
  get firstProbe(): Promise<void> | null {
    return this.#firstProbe;
  }

  attach(client: Redis, host: SingleWatchHost): void {
    batchWritesPerTick(client);
    this.#watchdog = new StallWatchdog(
      client,
      host.stallMs,
      (waitedMs) => this.#onStall(waitedMs, host),
      () => void host.requestProbe(),
    );
    this.#watchdog.start();
    client.on('ready', () => {
      host.onReady();
      this.#watchdog?.clear();
      this.#master = client.stream?.remoteAddress ? `${client.stream.remoteAddress}:${client.stream.remotePort}` : null;
      void this.#checkRole(client, host).then((ok) => {
        if (!ok || client.status !== 'ready' || host.isClosed()) return;
        host.setState('connected', null);
        host.logger.info({ target: host.config.target, master: this.#master }, '[Redis] Client ready to receive commands');
        // Latency for health from the first moment, measured in the background.
        this.#firstProbe ??= host.requestProbe();
        void host.server.check(client);
      });
    });
    client.on('close', () => {
      this.#roleOk = false;
      if (host.isClosed()) return;
      const state = host.state();
      if (state === 'connected' || state === 'connecting') host.setState('disconnected', host.lastError());
    });
  }

  /**
   * True when a PING is due: only after `intervalMs` in which nothing was read from Redis. Any
   * reply proves the connection alive, a killed Redis closes the socket at once, and a stall
   * that a command waits on is the watchdog's. So an idle kit pays one PING per interval at most
   * (bench/idle.ts), and a stall nothing waits on is seen within 1.25 intervals plus the stall
   * bound (or when health is asked: `healthFresh`).
   */
  probeDue(client: Redis | null, intervalMs: number, host: SingleWatchHost): boolean {
    const stream = client?.stream;
    if (stream && stream !== this.#heardStream) {
      this.#heardStream = stream;
      stream.on('data', () => host.heard());
    }
    if (client && host.state() === 'connected' && performance.now() - host.heardAt() < intervalMs) {
      if (host.server.markerDue) void host.server.check(client);
      return false;
    }
    return true;
  }

  /** One PING: latency, the end of a stall, the role if unknown, and `connected` again. */
  async probe(client: Redis, host: SingleWatchHost): Promise<void> {
    const started = performance.now();
    try {
      await client.ping();
      host.heard();
      host.setLatency(Math.round((performance.now() - started) * 100) / 100);
      if (this.#watchdog?.stalled) {
        this.#watchdog.clear();
        host.logger.info({ target: host.config.target }, '[Redis] Answering again after a stall');
      }
      if (!this.#roleOk && !(await this.#checkRole(client, host))) return;
      if (host.state() !== 'connected') host.setState('connected', null);
      // Without INFO the marker is the only sign of lost data; a FLUSHALL or an eviction
      // between reconnects is seen within a minute.
      if (host.server.markerDue) void host.server.check(client);
    } catch (err) {
      host.setLatency(null);
      // A stall was already reported; the probe's PING waits for Redis to answer again.
      if (this.#watchdog?.stalled) return;
      host.recordError(err);
      host.setState('disconnected', host.lastError());
    }
  }

  stop(): void {
    this.#watchdog?.stop();
  }

  /**
   * Asks the server its `ROLE`; true for a master (or when ROLE is not permitted). A replica or a
   * sentinel makes the state `disconnected` with the fix; on Sentinel the client reconnects so
   * that the sentinels are asked again.
   */
  async #checkRole(client: Redis, host: SingleWatchHost): Promise<boolean> {
    const role = await readRole(client);
    if (role === undefined) return false;
    this.#role = role;
    this.#roleOk = role !== 'replica' && role !== 'sentinel';
    if (this.#roleOk) return true;
    const error = { ...roleError(role as 'replica' | 'sentinel', host.where(), host.config.topology), at: new Date().toISOString() };
    const changed = host.lastError()?.reason !== error.reason;
    host.setLastError(error);
    host.setLatency(null);
    if (changed) host.logger.error({ reason: error.reason, hint: error.hint }, `[Redis] ❌ ${error.message}`);
    host.setState('disconnected', error);
    if (host.config.topology === 'sentinel') client.disconnect(true);
    return false;
  }

  /** The watchdog saw no reply for `waitedMs`: disconnected now, and every waiting command fails now. */
  #onStall(waitedMs: number, host: SingleWatchHost): void {
    const error = stallError(host.where(), waitedMs, host.stallMs);
    host.setLastError(error);
    host.setLatency(null);
    host.logger.warn({ reason: error.reason, waitedMs, stallMs: host.stallMs }, `[Redis] ${error.message}: failing fast until it answers`);
    host.setState('disconnected', error);
    this.#watchdog?.rejectOutstanding(new RedisUnavailableError(`Redis command failed: ${error.message} — ${error.hint}`, 'TIMEOUT'));
  }
}
