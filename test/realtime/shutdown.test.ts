import { connect, type Socket } from 'node:net';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redkit } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { startServer, TestClient } from './helpers.js';

// A deploy: SIGTERM on a reference-server process (`node dist/app/main.js`) with real ws
// clients connected, watched by a second toolkit standing for another instance.
let redis: RedisServer;
let observer: Redkit;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await observer?.close();
  await stopRedis(redis);
});

test('SIGTERM: clients get 1001, their presence is withdrawn at once, the process exits 0 within 2 s', async () => {
  const keyPrefix = randomPrefix();
  // A long heartbeat TTL: a leave seen within a second can only be the withdrawal, not a reap.
  const server = await startServer({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: keyPrefix, PRESENCE_HEARTBEAT_TTL_MS: '60000', REDIS_COMMAND_TIMEOUT_MS: '500' });
  observer = await kitFor(redis, { keyPrefix });
  observer.realtime.configure({ heartbeatTtlMs: 60_000 });
  await observer.presence.watch('deploy');
  const left = new Map<string, number>();
  observer.presence.on('left', (e) => left.set(e.memberId, performance.now()));

  const ids = ['ann', 'bob', 'cid'];
  const clients = await Promise.all(ids.map(() => TestClient.open(server.wsUrl)));
  for (const [i, c] of clients.entries()) await c.join('deploy', ids[i]!);
  await waitFor(() => observer.presence.view('deploy').length === 3, 3000, 'the observer sees the three members');
  // A peer that completed the upgrade and then went silent: it will never answer the close frame.
  const silent = await silentPeer(server.port);

  const exited = new Promise<{ code: number | null; at: number }>((resolve) => server.child.once('exit', (code) => resolve({ code, at: performance.now() })));
  const sentAt = performance.now();
  server.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const { code, at } = await Promise.race([
    exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no exit 12 s after SIGTERM:\n${server.output()}`)), 12_000);
    }),
  ]);
  clearTimeout(timer);
  const exitMs = at - sentAt;
  assert.equal(code, 0, `exit code 0 (took ${Math.round(exitMs)} ms):\n${server.output()}`);
  assert.ok(exitMs < 2000, `exited ${Math.round(exitMs)} ms after SIGTERM (bound 2000 ms)`);
  for (const c of clients) assert.equal((await c.waitClosed(2000)).code, 1001);
  await waitFor(() => observer.presence.view('deploy').length === 0, 1000, 'the observer saw every member leave');
  const leaveMs = Math.max(...ids.map((id) => left.get(id)!)) - sentAt;
  assert.ok(leaveMs < 2000, `leaves seen ${Math.round(leaveMs)} ms after SIGTERM`);
  silent.destroy();
  console.log(`# exit ${Math.round(exitMs)} ms, last leave seen ${Math.round(leaveMs)} ms after SIGTERM`);
});

/** Opens a WebSocket by hand (upgrade request, 101 answer) and then never reads or answers again. */
async function silentPeer(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    socket.once('data', (d: Buffer) => (d.toString().startsWith('HTTP/1.1 101') ? resolve() : reject(new Error(d.toString()))));
  });
  socket.pause();
  socket.on('error', () => {
    /* cut by the server: expected */
  });
  socket.on('end', () => socket.destroy());
  return socket;
}
