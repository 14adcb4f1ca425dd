// The ACL permission check of `redkit doctor`: a step file, separate because its probe list grows with the capabilities.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { aclFix } from '../connection/reply-errors.js';
import type { DoctorStep } from './doctor-step.js';

/**
 * What redkit runs, one command of each kind, on a key and channel under the prefix: scripts
 * (every capability), strings, hashes, sorted sets, blocking pops and streams (BullMQ), pub/sub.
 */
function permissionProbes(prefix: string): string[][] {
  const key = `${prefix}:doctor:{probe}:${randomBytes(4).toString('hex')}`;
  return [
    ['SET', key, '1', 'PX', '10000'],
    ['GET', key],
    ['PEXPIRE', key, '10000'],
    ['UNLINK', key],
    ['EVAL', "return redis.call('TIME')[1]", '1', key],
    ['EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '1', key],
    ['HSET', `${key}:h`, 'f', '1'],
    ['ZADD', `${key}:z`, '1', 'm'],
    ['BZPOPMIN', `${key}:z`, '0.01'],
    ['XADD', `${key}:x`, 'MAXLEN', '1', '*', 'f', '1'],
    ['DEL', `${key}:h`, `${key}:z`, `${key}:x`],
    ['SCAN', '0', 'MATCH', `${prefix}:doctor:*`, 'COUNT', '10'],
    ['PUBLISH', `${prefix}:doctor`, 'probe'],
    ['CLIENT', 'SETNAME', 'redkit-doctor'],
  ];
}

/**
 * Checks that the configured user may run what redkit needs: `ACL DRYRUN` (Redis ≥ 7) when the
 * user may run it, else each probe for real (harmless: a doctor key with a TTL, deleted).
 */
export async function checkPermissions(client: Redis, username: string | undefined, prefix: string): Promise<DoctorStep> {
  const user = await client.call('ACL', 'WHOAMI').then(String, () => username ?? 'default');
  const fix = aclFix(user, prefix);
  const probes = permissionProbes(prefix);
  const dryRun = await client.call('ACL', 'DRYRUN', user, 'PING').then(
    () => true,
    () => false,
  );
  const refused: string[] = [];
  for (const [command, ...args] of probes) {
    if (dryRun) {
      const verdict = String(await client.call('ACL', 'DRYRUN', user, command!, ...args));
      if (verdict !== 'OK') refused.push(`${command}: ${verdict}`);
      continue;
    }
    await client.call(command!, ...args).catch((err: unknown) => {
      const message = String((err as Error)?.message ?? err);
      // A probe may fail for reasons other than permissions (EVALSHA of an unknown script: NOSCRIPT): only refusals count.
      if (/^NOPERM|can't (run|access)/.test(message)) refused.push(`${command}: ${message}`);
    });
  }
  if (refused.length > 0) {
    return {
      name: 'permissions',
      status: 'fail',
      detail: `ACL user "${user}" may not run what redkit needs — ${refused.join('; ')}`,
      fix: `as an admin: ${fix}`,
    };
  }
  return {
    name: 'permissions',
    status: 'ok',
    detail: `ACL user "${user}" may run what redkit needs under "${prefix}:*" (${dryRun ? 'ACL DRYRUN' : 'tried each command'}); the least it needs: ${fix}`,
  };
}
