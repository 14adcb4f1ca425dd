import { isCluster, type RedisClient } from '../connection/cluster.js';
import type { RedkitContext } from '../context.js';
import { JobTransitionError } from '../errors.js';
import { fromFields, toFields } from './codec.js';
import { jobScripts } from './scripts.js';
import { FINISHED, type JobBackend, type JobEvent, type JobPatch, type JobRecord, type JobStatus } from './types.js';

/** The Redis keys and channel of the job store. */
export function jobKeys(ctx: RedkitContext) {
  return {
    /** `<prefix>:job:{id}`: the `{id}` hash tag keeps a job's record and lock in one cluster slot. */
    job: (id: string) => ctx.keys.tagged('job', id),
    lock: (id: string) => ctx.keys.tagged('job', id, 'lock'),
    /** ZSET of unfinished job ids scored by when their record expires. */
    unfinished: ctx.keys.key('jobs', 'unfinished'),
    channel: ctx.keys.key('jobs', 'events'),
  };
}

/** The event announced for a record. */
export function eventOf(record: JobRecord): JobEvent {
  return { id: record.id, status: record.status, progress: record.progress, updatedAt: record.updatedAt };
}

/**
 * Job records as Redis hashes, written by Lua scripts that validate status changes atomically
 * and publish every change. The unfinished index is a separate key (it cannot share a cluster
 * slot with every job), so it is kept in an order that never misses a job — added before the
 * record is created, removed after it finished — and cleaned of leftovers when listed.
 */
export class RedisJobStore implements JobBackend {
  readonly #ctx: RedkitContext;
  readonly #keys: ReturnType<typeof jobKeys>;

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#keys = jobKeys(ctx);
  }

  async create(record: JobRecord, ttlSec: number): Promise<boolean> {
    return this.#ctx.connection.run(async (client) => {
      await client.zadd(this.#keys.unfinished, record.createdAt + ttlSec * 1000, record.id);
      const created = await jobScripts.create<number>(client, [
        this.#keys.job(record.id),
        ttlSec,
        this.#keys.channel,
        JSON.stringify(eventOf(record)),
        ...toFields(record),
      ]);
      return created === 1;
    });
  }

  async get(id: string): Promise<JobRecord | null> {
    return this.#ctx.connection.run(async (client) => {
      const h = await client.hgetall(this.#keys.job(id));
      return h.id ? fromFields(h) : null;
    });
  }

  async update(id: string, patch: JobPatch, now: number, ttlSec: number): Promise<JobRecord | null> {
    return this.#ctx.connection.run(async (client) => {
      const { status, ...rest } = patch;
      const reply = await jobScripts.update<string[]>(client, [this.#keys.job(id), ttlSec, this.#keys.channel, status ?? '', now, ...toFields(rest)]);
      if (reply[0] === 'NOT_FOUND') return null;
      if (reply[0] === 'TRANSITION') throw new JobTransitionError(id, reply[1]!, status ?? reply[1]!);
      const record = fromFields(reply.slice(1));
      if (FINISHED.has(record.status)) await client.zrem(this.#keys.unfinished, id);
      else await client.zadd(this.#keys.unfinished, now + ttlSec * 1000, id);
      return record;
    });
  }

  async restore(record: JobRecord, ttlSec: number): Promise<boolean> {
    return this.#ctx.connection.run(async (client) => {
      const finished = FINISHED.has(record.status);
      if (!finished) await client.zadd(this.#keys.unfinished, record.updatedAt + ttlSec * 1000, record.id);
      const written = await jobScripts.restore<number>(client, [
        this.#keys.job(record.id),
        ttlSec,
        this.#keys.channel,
        JSON.stringify(eventOf(record)),
        record.updatedAt,
        ...toFields(record),
      ]);
      if (finished) await client.zrem(this.#keys.unfinished, record.id);
      return written === 1;
    });
  }

  /**
   * Every job hash as `[err, fields]`. One pipeline on a single server; on a cluster the hashes
   * live in as many slots as jobs, and an ioredis Cluster pipeline must stay in one slot, so they
   * are read one call each (corked per node in the same tick, so still about one round trip).
   */
  async #readAll(client: RedisClient, ids: string[]): Promise<Array<[Error | null, unknown]>> {
    if (!isCluster(client)) {
      const pipeline = client.pipeline();
      for (const id of ids) pipeline.hgetall(this.#keys.job(id));
      return ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>;
    }
    return Promise.all(
      ids.map((id) =>
        client.hgetall(this.#keys.job(id)).then(
          (h): [Error | null, unknown] => [null, h],
          (err: Error): [Error | null, unknown] => [err, null],
        ),
      ),
    );
  }

  async listUnfinished(): Promise<JobRecord[]> {
    return this.#ctx.connection.run(async (client) => {
      await client.zremrangebyscore(this.#keys.unfinished, '-inf', Date.now());
      const ids = await client.zrange(this.#keys.unfinished, '0', '-1');
      if (ids.length === 0) return [];
      const replies = await this.#readAll(client, ids);
      const out: JobRecord[] = [];
      const stale: string[] = [];
      // A failed read is not a missing job: dropping it from the index would lose it for recovery
      // (on a cluster, one shard can fail while the others answer).
      const failed = replies.find(([err]) => err);
      if (failed) throw failed[0];
      replies.forEach(([, h], i) => {
        const fields = h as Record<string, string> | null;
        if (!fields?.id) stale.push(ids[i]!);
        else if (FINISHED.has(fields.status as JobStatus)) stale.push(ids[i]!);
        else out.push(fromFields(fields));
      });
      if (stale.length > 0) await client.zrem(this.#keys.unfinished, ...stale);
      return out;
    });
  }
}
