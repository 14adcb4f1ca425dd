// An orderly resign (resign(), kit.close(), the reference server's shutdown) is routine and
// logs no WARN; a lease really lost (Redis gone past the lease) still does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import type { Logger } from '../../src/index.js';
import { buildServer } from '../../app/server.js';
import { readSettings } from '../../app/settings.js';

interface Entry {
  level: string;
  msg: string;
  obj: object;
}

function capturingLogger(): { logger: Logger; entries: Entry[] } {
  const entries: Entry[] = [];
  const at =
    (level: string) =>
    (obj: object, msg = '') => {
      entries.push({ level, msg, obj });
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

const leaderLines = (entries: Entry[], level: string) => entries.filter((e) => e.level === level && /leader/i.test(e.msg + JSON.stringify(e.obj)));

test('resign() and kit.close() log no WARN and emit revoked with resigned=true; a lost lease warns', async () => {
  const server = await startRedis();
  await sleep(2100); // the restart guard (uptime has 1 s resolution)
  const { logger, entries } = capturingLogger();
  const kit = await kitFor(server, { logger, commandTimeoutMs: 200 });
  try {
    const role = randomPrefix('r');
    const revoked: Array<[string, boolean]> = [];
    const a = kit.leader.campaign(role, { ttl: 900 });
    a.on('revoked', (reason, resigned) => revoked.push([reason, resigned]));
    await waitFor(() => a.isLeader, 3000, 'elected');
    await a.resign();
    assert.deepEqual(revoked, [['resigned', true]]);
    assert.deepEqual(leaderLines(entries, 'warn'), [], 'no WARN for resign()');

    const b = kit.leader.campaign(role, { ttl: 900 });
    b.on('revoked', (reason, resigned) => revoked.push([reason, resigned]));
    await waitFor(() => b.isLeader, 3000, 'elected again');
    await server.kill();
    await waitFor(() => revoked.length === 2, 3000, 'revocation after the kill');
    assert.equal(revoked[1]![1], false, 'a lost lease is not a resign');
    assert.equal(leaderLines(entries, 'warn').length, 1, 'a lost lease is one WARN');
    await server.start();
    await waitFor(() => b.isLeader, 8000, 're-elected after Redis came back');
    entries.length = 0;
    await kit.close();
    assert.deepEqual(revoked[2], ['resigned', true]);
    assert.deepEqual(leaderLines(entries, 'warn'), [], 'no WARN for kit.close()');
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

test('the reference server shut down as leader logs no WARN about leadership', async () => {
  const server = await startRedis();
  await sleep(2100);
  const { logger, entries } = capturingLogger();
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const appLog = pino({ level: 'debug' }, sink);
  const kit = await kitFor(server, { logger });
  // A 10 s lease (the server's default is 30 s): the restart guard waits one lease of uptime.
  const app = await buildServer(kit, readSettings({ PORT: '0', LEADER_LEASE_MS: '10000' }), appLog);
  try {
    await waitFor(
      async () => (await app.inject({ url: '/api/leader' })).json().isLeader === true,
      15_000,
      'the server leads (after the restart guard: one 10 s lease of server uptime)',
    );
    await app.close();
    await kit.close();
    assert.ok(
      lines.some((l) => l.msg === 'leadership handed over'),
      'the hand-over is logged (info)',
    );
    const warnings = lines.filter((l) => l.level >= 40 && /leader/i.test(JSON.stringify(l)));
    assert.deepEqual(warnings, [], 'no app WARN about leadership');
    assert.deepEqual(leaderLines(entries, 'warn'), [], 'no redkit WARN about leadership');
  } finally {
    await app.close();
    await kit.close();
    await stopRedis(server);
  }
});
