import type { RouteModule } from '../context.js';
import { RedisUnavailableError } from 'redkit';

/** The role every instance of the reference server campaigns for (seed 003's leader election). */
export const APP_LEADER_ROLE = 'app-maintenance';

/**
 * Every instance campaigns for `app-maintenance` (lease LEADER_LEASE_MS, default 30 s: renewed
 * every 10 s, 6 commands a minute where 10 s cost 18; a crashed leader is replaced within the
 * lease, a clean shutdown hands over at once); `GET /api/leader` tells whether this instance
 * leads and who does. `kit.close()` on shutdown resigns.
 */
export const leaderRoutes: RouteModule = (app, { kit, settings }) => {
  const rawLease = settings.env.LEADER_LEASE_MS;
  const leaseMs = rawLease ? Number(rawLease) : 30_000;
  if (!Number.isInteger(leaseMs) || leaseMs < 1000) throw new Error(`LEADER_LEASE_MS must be a whole number of ms, at least 1000 (got "${rawLease}")`);
  const election = kit.leader.campaign(APP_LEADER_ROLE, { ttl: leaseMs });
  election.on('elected', (epoch) => app.log.info({ role: APP_LEADER_ROLE, epoch }, 'elected leader'));
  // redkit itself logs a lost lease as a WARN; a resign on shutdown is routine.
  election.on('revoked', (reason, resigned) =>
    app.log.info({ role: APP_LEADER_ROLE, reason, resigned }, resigned ? 'leadership handed over' : 'leadership revoked'),
  );

  app.get('/api/leader', async (_request, reply) => {
    try {
      const current = await kit.leader.current(APP_LEADER_ROLE);
      return { role: APP_LEADER_ROLE, instanceId: kit.instanceId, isLeader: election.isLeader, epoch: election.epoch, current };
    } catch (err) {
      if (err instanceof RedisUnavailableError) {
        return reply.code(503).send({ error: err.code, message: err.message, isLeader: election.isLeader });
      }
      throw err;
    }
  });
};
