import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { driftMarginMs } from '../../src/internals.js';

test('Redis killed: leadership is revoked before the lease could expire elsewhere; campaigning resumes when Redis is back', async () => {
  const server = await startRedis();
  await sleep(2100); // the restart guard (uptime has 1 s resolution)
  const kit = await kitFor(server, { commandTimeoutMs: 200 });
  const ttl = 900;
  const role = randomPrefix('r');
  const events: Array<{ ev: string; t: number; epoch?: number }> = [];
  let validUntil = 0;
  const election = kit.leader.campaign(role, { ttl });
  election.on('elected', (epoch) => {
    events.push({ ev: 'elected', t: Date.now(), epoch });
    validUntil = election.validUntil!;
  });
  election.on('renewed', (until) => {
    validUntil = until;
  });
  election.on('revoked', () => events.push({ ev: 'revoked', t: Date.now() }));
  await waitFor(() => election.isLeader, 3000, 'election');
  await sleep(400);
  await server.kill();
  const killedAt = Date.now();
  await waitFor(() => events.some((e) => e.ev === 'revoked'), ttl + 1000, 'revocation');
  const revoked = events.find((e) => e.ev === 'revoked')!;
  // The last renewal was sent before the kill, so Redis's lease ends after sentAt + ttl; this
  // instance let go at validUntil = sentAt + ttl − drift margin (timer lag aside).
  assert.ok(revoked.t <= validUntil + 50, `revoked at ${revoked.t - killedAt} ms after the kill, lease trusted until ${validUntil - killedAt} ms`);
  assert.ok(validUntil - killedAt <= ttl - driftMarginMs(ttl));
  assert.equal(election.isLeader, false);
  await sleep(300);
  await server.start();
  // Back after the restart guard (one TTL of server uptime, second resolution).
  await waitFor(() => election.isLeader, 6000, 're-election after Redis came back');
  const elected = events.filter((e) => e.ev === 'elected');
  assert.equal(elected.length, 2);
  assert.ok(elected[1]!.epoch! > elected[0]!.epoch!, 'the epoch increases across the restart');
  await kit.close();
  assert.equal(election.isLeader, false, 'close() resigns');
  await stopRedis(server);
});
