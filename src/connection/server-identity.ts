import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../config/types.js';

/** Payload of the connection's `restart` event. */
export interface RedisRestartEvent {
  /** When the restart was noticed (ISO 8601). */
  at: string;
  /** `run_id` when INFO is permitted (the server process changed), `marker` when the marker key vanished or changed (data lost). */
  via: 'run_id' | 'marker';
  previousId: string;
  currentId: string;
}

/**
 * Payload of the connection's `failover` event: the server changed (new `run_id`), but it is a
 * promoted replica of the previous one (its `master_replid2` is the old master's replication ID),
 * so the data redkit wrote is there, up to the replication lag at the moment of the switch.
 */
export interface RedisFailoverEvent {
  at: string;
  previousId: string;
  currentId: string;
}

/** A health warning: a stable code to branch on, and the message with its fix. */
export interface HealthWarning {
  code: 'EVICTION_POLICY';
  message: string;
}

/** What one look at the server found. */
export interface ServerFacts {
  /** `run_id` from INFO server, or null when INFO is refused (least-privilege ACL user). */
  runId: string | null;
  /** The marker key's value, read only when INFO is refused (null otherwise). */
  marker: string | null;
  /** `master_replid` / `master_replid2` from INFO replication (null without INFO): a promoted replica keeps its old master's ID as replid2. */
  replId: string | null;
  replId2: string | null;
  /** `maxmemory-policy`, or null when neither INFO nor CONFIG GET is permitted. */
  maxmemoryPolicy: string | null;
  /** Why a look was skipped (e.g. `NOPERM` on INFO), for a debug line. */
  skipped: string[];
}

/** The one key per prefix whose disappearance means the data set was lost; written only when INFO is refused. */
export function markerKey(prefix: string): string {
  return `${prefix}:redkit:server-marker`;
}

/** The marker's TTL, renewed at every check: 7 days (a kit disconnected longer may report a false restart). */
export const MARKER_TTL_MS = 7 * 24 * 3600_000;

/**
 * Reads the server's identity and eviction policy with as little as the ACL user is allowed:
 * INFO (server + memory) when permitted (it is in @dangerous); otherwise CONFIG GET for the
 * policy and a marker key under the kit's prefix for the identity. Never throws for a refused
 * command (a connection failure does throw).
 */
export async function readServerFacts(client: Redis, prefix: string): Promise<ServerFacts> {
  const facts: ServerFacts = { runId: null, marker: null, replId: null, replId2: null, maxmemoryPolicy: null, skipped: [] };
  try {
    // The default sections (server, memory among them): INFO with several sections needs Redis 7.
    const info = String(await client.info());
    facts.runId = /^run_id:(\S+)/m.exec(info)?.[1] ?? null;
    facts.replId = /^master_replid:(\S+)/m.exec(info)?.[1] ?? null;
    facts.replId2 = /^master_replid2:(\S+)/m.exec(info)?.[1] ?? null;
    facts.maxmemoryPolicy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null;
  } catch (err) {
    facts.skipped.push(`INFO: ${firstWord(err)}`);
  }
  if (facts.maxmemoryPolicy === null) {
    try {
      const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
      facts.maxmemoryPolicy = reply?.[1] ?? null;
    } catch (err) {
      facts.skipped.push(`CONFIG GET: ${firstWord(err)}`);
    }
  }
  if (facts.runId === null) facts.marker = await readMarker(client, prefix);
  return facts;
}

/** Reads (creating it if absent) the marker and renews its TTL: a changed value means the data was lost. */
export async function readMarker(client: Redis, prefix: string): Promise<string | null> {
  const key = markerKey(prefix);
  const fresh = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  // SET NX then GET: every instance of a fleet ends up holding the value the first one wrote.
  await client.set(key, fresh, 'PX', MARKER_TTL_MS, 'NX');
  const [value] = await Promise.all([client.get(key), client.pexpire(key, MARKER_TTL_MS)]);
  return value;
}

/** Only `noeviction` keeps queues, locks and job records: `volatile-*` evicts keys with a TTL, which locks and job records have. */
export function evictionWarning(policy: string | null): HealthWarning | null {
  if (policy === null || policy === 'noeviction') return null;
  return {
    code: 'EVICTION_POLICY',
    message: `Redis maxmemory-policy is ${policy}: under memory pressure it deletes keys, including queued jobs, locks and job records; set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, or your provider's setting)`,
  };
}

function firstWord(err: unknown): string {
  return String((err as Error)?.message ?? err).split(' ')[0] ?? 'error';
}

/**
 * Remembers who the server is and what it may evict, across reconnects. `check()` after each
 * (re)connect compares the identity with the last one: a change is a restart (one WARN, then
 * `onRestart`); an evicting policy gives one WARN per policy value and a health warning.
 */
export class ServerWatch {
  #runId: string | null = null;
  #replId: string | null = null;
  #lastFailoverAt: string | null = null;
  #marker: string | null = null;
  #markerCheckedAt = 0;
  #lastRestartAt: string | null = null;
  #warnings: HealthWarning[] = [];
  #policy: string | null = null;

  constructor(
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly onRestart: (event: RedisRestartEvent) => void,
    private readonly onFailover: (event: RedisFailoverEvent) => void = () => {},
  ) {}

  /** When the last failover (a promoted replica of the previous server) was seen (ISO 8601), or null. */
  get lastFailoverAt(): string | null {
    return this.#lastFailoverAt;
  }

  /** `run_id`, or the marker's value when INFO is refused; null before the first look. */
  get serverId(): string | null {
    return this.#runId ?? this.#marker;
  }

  /** When the last restart or data loss was seen (ISO 8601), or null. */
  get lastRestartAt(): string | null {
    return this.#lastRestartAt;
  }

  /** Current warnings (an evicting policy). */
  get warnings(): readonly HealthWarning[] {
    return this.#warnings;
  }

  /** True when only the marker tells restarts apart and it was last read over a minute ago. */
  get markerDue(): boolean {
    return this.#marker !== null && this.#runId === null && Date.now() - this.#markerCheckedAt >= 60_000;
  }

  /** Looks at the server; never throws (a refused or failed look is a debug line). */
  async check(client: Redis): Promise<void> {
    try {
      // Once INFO was refused, only the marker is read (INFO would be refused again).
      const facts: ServerFacts =
        this.#marker !== null && this.#runId === null
          ? { runId: null, marker: await readMarker(client, this.prefix), replId: null, replId2: null, maxmemoryPolicy: this.#policy, skipped: [] }
          : await readServerFacts(client, this.prefix);
      if (facts.skipped.length) this.logger.debug({ skipped: facts.skipped }, '[Redis] Not permitted for this user; a marker key tells restarts apart');
      if (facts.marker !== null) this.#markerCheckedAt = Date.now();
      const via = facts.runId !== null ? 'run_id' : 'marker';
      const current = facts.runId ?? facts.marker;
      const known = via === 'run_id' ? this.#runId : this.#marker;
      const previousReplId = this.#replId;
      this.#runId = facts.runId;
      this.#marker = facts.marker;
      this.#replId = facts.replId;
      if (known !== null && current !== null && current !== known) {
        // A promoted replica carries the old master's history as replid2: the data is there, so
        // this is a failover, not a restart (an old master restarted empty has a fresh replid
        // and no replid2, and stays a restart).
        const promoted = via === 'run_id' && previousReplId !== null && facts.replId2 === previousReplId;
        if (promoted) this.#failedOver({ at: new Date().toISOString(), previousId: known, currentId: current });
        else this.#restarted({ at: new Date().toISOString(), via, previousId: known, currentId: current });
      }
      this.#checkEviction(facts.maxmemoryPolicy);
    } catch (err) {
      this.logger.debug({ err: String((err as Error)?.message ?? err) }, '[Redis] Could not read the server identity; will try at the next reconnect');
    }
  }

  #failedOver(event: RedisFailoverEvent): void {
    this.#lastFailoverAt = event.at;
    this.logger.warn(
      { at: event.at },
      '[Redis] Failover: now on a promoted replica of the previous master; writes acknowledged just before the switch may be lost (replication is asynchronous)',
    );
    this.onFailover(event);
  }

  #restarted(event: RedisRestartEvent): void {
    this.#lastRestartAt = event.at;
    this.logger.warn(
      { via: event.via, at: event.at },
      event.via === 'run_id'
        ? '[Redis] Redis restarted (new run_id): state kept in Redis may be lost (queued jobs, job records, locks, cache, presence)'
        : '[Redis] Redis lost its data (marker key gone): state kept in Redis may be lost (queued jobs, job records, locks, cache, presence)',
    );
    this.onRestart(event);
  }

  #checkEviction(policy: string | null): void {
    const warning = evictionWarning(policy);
    this.#warnings = warning ? [warning] : [];
    if (warning && policy !== this.#policy) this.logger.warn({ maxmemoryPolicy: policy }, `[Redis] ${warning.message}`);
    this.#policy = policy;
  }
}
