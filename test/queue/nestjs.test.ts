// The queue surface of issue 18 through `redkit/nestjs`: RedkitQueueService in a real Nest app,
// on Redis and standalone.
import 'reflect-metadata';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { RedkitModule, RedkitQueueService } from '../../src/nestjs/index.js';
import { redisOptions, standaloneOptions } from '../nestjs/example.js';

let server: RedisServer | undefined;
after(async () => {
  await stopRedis(server);
});

for (const mode of ['redis', 'standalone'] as const) {
  test(`RedkitQueueService [${mode}]: getJob, events, schedulers, live workers; listeners go with the app`, async (t) => {
    if (mode === 'redis') server ??= await startRedis();
    const options = mode === 'redis' ? redisOptions(server!, randomPrefix(), 'q18-nest') : standaloneOptions('q18-nest');
    @Module({ imports: [RedkitModule.forRoot(options)] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    t.after(() => app.close());
    await app.init();
    const queues = app.get(RedkitQueueService);
    const completed: string[] = [];
    await queues.on('nest-mail', 'completed', ({ jobId }) => completed.push(jobId));
    const worker = queues.worker('nest-mail', async (job) => {
      await job.progress(100);
      return { sent: job.data };
    });
    await worker.ready();
    await queues.queue('nest-mail').add('send', 'to-x', { jobId: 'mail-1' });
    await waitFor(() => completed.includes('mail-1'), 10_000, 'completed event');
    const job = await queues.getJob('nest-mail', 'mail-1');
    assert.equal(job!.state, 'completed');
    assert.deepEqual(job!.result, { sent: 'to-x' });
    assert.equal(job!.progress, 100);
    await queues.upsertScheduler('nest-mail', 'digest', { every: 300 }, { name: 'digest', data: 'digest' });
    await waitFor(() => completed.filter((id) => id !== 'mail-1').length >= 2, 10_000, 'two scheduled runs');
    assert.deepEqual(
      (await queues.queue('nest-mail').schedulers()).map((s) => s.id),
      ['digest'],
    );
    await queues.queue('nest-mail').removeScheduler('digest');
    assert.equal((await queues.stats(['nest-mail']))['nest-mail']!.counts!.workers, 1);
    await app.close();
    const before = completed.length;
    assert.ok(before >= 3);
  });
}
