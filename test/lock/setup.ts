import type { Implementation } from '../helpers/contract.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { sleep } from '../helpers/util.js';
import type { Redkit } from '../../src/index.js';

/**
 * A fresh redis-server is younger than any TTL, so the restart guard would refuse the first
 * grants: wait until it is surely 1 s old — its reported uptime has whole-second resolution and the
 * guard takes a second off it — which covers TTLs ≤ 1000 ms.
 */
export async function agedRedis() {
  const server = await startRedis();
  await sleep(2100);
  return server;
}

/** The Redis and the in-memory toolkit, for contract suites. */
export const implementations: Array<Implementation<Redkit>> = [
  {
    name: 'redis',
    async setup() {
      const server = await agedRedis();
      const kit = await kitFor(server);
      return {
        subject: kit,
        async teardown() {
          await kit.close();
          await stopRedis(server);
        },
      };
    },
  },
  {
    name: 'memory',
    async setup() {
      const kit = await standaloneKit();
      return {
        subject: kit,
        async teardown() {
          await kit.close();
        },
      };
    },
  },
];
