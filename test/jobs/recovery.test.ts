import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { targetEnv } from '../helpers/target.js';
import { waitFor } from '../helpers/util.js';
import { startComfyUIStub, type ComfyUIStub, type Redkit } from '../../src/index.js';
import { spawnWithLines, type LineProcess } from '../helpers/process.js';

const fixture = fileURLToPath(new URL('./fixtures/server.js', import.meta.url));
const IDS = Array.from({ length: 20 }, (_, i) => `job-${i}`);

type Proc = LineProcess;
const spawnServer = (env: Record<string, string>) => spawnWithLines(fixture, env);
const tracked = (p: Proc) => p.lines.filter((l) => l.startsWith('tracking ')).map((l) => l.split(' ')[1]!);
const exited = (p: Proc) => new Promise((r) => (p.child.exitCode !== null || p.child.signalCode !== null ? r(null) : p.child.once('exit', r)));

/** Starts 20 jobs in a server process and SIGKILLs it halfway through submitting them. */
async function killMidway(server: RedisServer, kit: Redkit, stub: ComfyUIStub, env: Record<string, string>): Promise<void> {
  const a = spawnServer({ ...env, MODE: 'start', COUNT: '20' });
  try {
    await waitFor(async () => (await kit.jobs.store.listUnfinished('comfyui')).length === 20, 20_000, '20 records');
    await waitFor(() => stub.submissions().size >= 8, 20_000, 'half submitted');
  } finally {
    a.child.kill('SIGKILL');
    await exited(a);
  }
  assert.ok(stub.submissions().size < 20, `killed before every job was submitted (${stub.submissions().size})`);
  void server;
}

async function allSucceeded(kit: Redkit): Promise<void> {
  await waitFor(
    async () => {
      const records = await Promise.all(IDS.map((id) => kit.jobs.store.get(id)));
      return records.every((r) => r?.status === 'succeeded');
    },
    45_000,
    'all 20 jobs succeeded',
    100,
  );
}

function assertSubmittedOnce(stub: ComfyUIStub, kit: Redkit): Promise<void> {
  return (async () => {
    const subs = stub.submissions();
    for (const id of IDS) {
      const record = await kit.jobs.store.get(id);
      assert.equal(record!.status, 'succeeded');
      assert.equal(subs.get(record!.externalId!), 1, `${id} submitted exactly once`);
    }
    assert.equal(subs.size, 20);
    assert.ok(
      [...subs.values()].every((n) => n === 1),
      `no duplicate submissions: ${JSON.stringify([...subs])}`,
    );
  })();
}

test('20 external jobs, server SIGKILLed and restarted: all succeed, each submitted exactly once', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  const stub = await startComfyUIStub({ runMs: 1200, concurrency: 20, acceptDelayMs: 60 });
  const env = { ...targetEnv(server), KEY_PREFIX: kit.config.prefix, STUB_URL: stub.url, LOCK_MS: '2000' };
  let b: Proc | undefined;
  try {
    await killMidway(server, kit, stub, env);
    b = spawnServer({ ...env, MODE: 'recover' });
    await allSucceeded(kit);
    await assertSubmittedOnce(stub, kit);
    const unfinished = await kit.jobs.store.listUnfinished('comfyui');
    assert.deepEqual(unfinished, []);
  } finally {
    b?.child.kill('SIGTERM');
    if (b) await exited(b);
    await stub.close();
    await kit.close();
    await stopRedis(server);
  }
});

test('two instances recovering at once: every job tracked by exactly one of them', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  const stub = await startComfyUIStub({ runMs: 1200, concurrency: 20, acceptDelayMs: 60 });
  const env = { ...targetEnv(server), KEY_PREFIX: kit.config.prefix, STUB_URL: stub.url, LOCK_MS: '2000' };
  const procs: Proc[] = [];
  try {
    await killMidway(server, kit, stub, env);
    procs.push(spawnServer({ ...env, MODE: 'recover' }), spawnServer({ ...env, MODE: 'recover' }));
    await allSucceeded(kit);
    await assertSubmittedOnce(stub, kit);
    const [b, c] = procs.map(tracked);
    const overlap = b!.filter((id) => c!.includes(id));
    assert.deepEqual(overlap, [], 'no job tracked by both');
    assert.equal(new Set(b).size, b!.length, 'no job tracked twice by one instance');
    assert.equal(new Set(c).size, c!.length);
    assert.equal(b!.length + c!.length, 20, `all 20 taken over (b=${b!.length}, c=${c!.length})`);
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map(exited));
    await stub.close();
    await kit.close();
    await stopRedis(server);
  }
});
