// The Sentinel checks of `redkit doctor`: a step file, separate because they run only for the sentinel topology.
import type { RedkitConfig } from '../config/types.js';
import { classifyError } from '../connection/classify.js';
import { askSentinel } from '../connection/sentinel.js';
import type { DoctorStep } from './doctor-step.js';

/**
 * Sentinel: every sentinel reachable, a quorum (CKQUORUM), every sentinel naming the same master,
 * replicas up. Returns the agreed master, or null after a failing step.
 */
export async function checkSentinels(config: RedkitConfig, steps: DoctorStep[]): Promise<{ host: string; port: number } | null> {
  const name = config.sentinelMasterName!;
  const views = await Promise.all(config.sentinels.map((s) => askSentinel(config, s)));
  const up = views.filter((v) => v.error === null);
  const down = views.filter((v) => v.error !== null);
  const secrets = [config.password, config.sentinelPassword];
  const reasons = down.map(
    (v) => `${v.address}: ${classifyError(new Error(v.error!), { target: v.address, tls: config.sentinelTls !== false, secrets }).message}`,
  );
  steps.push({
    name: 'sentinels',
    status: up.length === 0 ? 'fail' : down.length ? 'warn' : 'ok',
    detail: `${up.length}/${views.length} sentinels answer${reasons.length ? ` — ${reasons.join('; ')}` : ''}`,
    ...(down.length ? { fix: 'check REDIS_SENTINELS, REDIS_SENTINEL_PASSWORD / REDIS_SENTINEL_TLS, and that each sentinel runs' } : {}),
  });
  if (up.length === 0) return null;
  const quorum = up.find((v) => v.quorum.ok);
  steps.push(
    quorum
      ? { name: 'quorum', status: 'ok', detail: quorum.quorum.message }
      : {
          name: 'quorum',
          status: 'fail',
          detail: up[0]!.quorum.message || `no sentinel monitors "${name}"`,
          fix: `check REDIS_SENTINEL_MASTER_NAME (now "${name}") and that a majority of sentinels run: without a quorum no failover can happen`,
        },
  );
  const named = new Map<string, number>();
  for (const v of up) if (v.master) named.set(v.master, (named.get(v.master) ?? 0) + 1);
  if (named.size === 0) {
    steps.push({
      name: 'master',
      status: 'fail',
      detail: `no sentinel knows a master named "${name}"`,
      fix: 'check REDIS_SENTINEL_MASTER_NAME against `sentinel monitor <name> …` in sentinel.conf',
    });
    return null;
  }
  const [master, votes] = [...named].sort((a, b) => b[1] - a[1])[0]!;
  steps.push(
    named.size === 1
      ? { name: 'master', status: 'ok', detail: `every answering sentinel names ${master} for "${name}"` }
      : {
          name: 'master',
          status: 'warn',
          detail: `sentinels disagree: ${[...named].map(([m, n]) => `${m} (${n})`).join(', ')}; using ${master} (${votes})`,
          fix: "a failover may be in progress; if it lasts, check the sentinels' logs and their epochs",
        },
  );
  const best = up.reduce((a, b) => (b.healthyReplicas > a.healthyReplicas ? b : a));
  steps.push(
    best.healthyReplicas > 0
      ? { name: 'replicas', status: 'ok', detail: `${best.healthyReplicas}/${best.replicas} replicas up and in sync` }
      : {
          name: 'replicas',
          status: 'warn',
          detail: `${best.healthyReplicas}/${best.replicas} replicas up and in sync`,
          fix: 'with no replica in sync a failover has nothing to promote: start replicas with replicaof <master>',
        },
  );
  const i = master.lastIndexOf(':');
  return { host: master.slice(0, i), port: Number(master.slice(i + 1)) };
}
