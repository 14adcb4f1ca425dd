import { maskSecrets } from '../config/mask.js';

/** Why Redis cannot be used, with the fix the seeds' troubleshooting table gives. */
export interface ClassifiedError {
  reason:
    | 'ECONNREFUSED'
    | 'DNS'
    | 'NOAUTH'
    | 'WRONGPASS'
    | 'NOPERM'
    | 'BUSY'
    | 'LOADING'
    | 'MASTERDOWN'
    | 'TLS_MISMATCH'
    | 'TLS_CERT'
    | 'CLOSED_IN_HANDSHAKE'
    | 'TIMEOUT'
    | 'CONNECTION_LOST'
    | 'WRONG_ROLE'
    | 'FAILOVER'
    | 'CLUSTER_PARTIAL'
    | 'CLUSTER_DOWN'
    | 'NOT_A_CLUSTER'
    | 'UNKNOWN';
  /** What happened, never containing a secret. */
  message: string;
  /** What to change. */
  hint: string;
}

interface ErrorLike {
  code?: string;
  message?: string;
  name?: string;
}

/**
 * Classifies a connection-level error. `target` is `host:port` for messages; `secrets` are masked.
 * `tls` says whether the client spoke TLS, which tells the two handshake mismatches apart.
 */
export function classifyError(error: unknown, ctx: { target: string; tls: boolean; secrets?: Array<string | undefined> }): ClassifiedError {
  const e = (error ?? {}) as ErrorLike;
  const raw = maskSecrets(String(e.message ?? error), ctx.secrets ?? []);
  const code = e.code ?? '';
  const at = ctx.target;
  // Redis Cluster, before the generic cases: ioredis's own words for a cluster it cannot use.
  // A seed that is no cluster node fails the slot refresh: the reason is in its lastNodeError.
  const nodeError = String((error as { lastNodeError?: ErrorLike } | null)?.lastNodeError?.message ?? '');
  if (/cluster support disabled/i.test(raw) || /cluster support disabled/i.test(nodeError)) {
    return {
      reason: 'NOT_A_CLUSTER',
      message: `${at} is not a Redis Cluster node (cluster support disabled)`,
      hint: 'unset REDIS_CLUSTER / REDIS_CLUSTER_NODES and use REDIS_URL for a single server, or point REDIS_CLUSTER_NODES at the cluster',
    };
  }
  if (e.name === 'ClusterAllFailedError' || /Too many Cluster redirections|Cluster isn't ready|Cluster is ended|No sharded subscriber|CLUSTERDOWN/.test(raw)) {
    return {
      reason: 'CLUSTER_DOWN',
      message: `Redis Cluster at ${at} cannot serve the call (${raw.slice(0, 160)})`,
      hint: 'a failover or reshard is probably in progress: redkit follows the new slot map by itself; if it lasts, run `npx redkit doctor`',
    };
  }
  if (code === 'ECONNREFUSED' || raw.includes('ECONNREFUSED')) {
    return {
      reason: 'ECONNREFUSED',
      message: `connection refused by ${at}`,
      hint: 'check REDIS_HOST / REDIS_PORT (or REDIS_URL) and that redis-server is running and reachable from this host',
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || raw.includes('ENOTFOUND') || raw.includes('EAI_AGAIN')) {
    return {
      reason: 'DNS',
      message: `cannot resolve the host of ${at}`,
      hint: "check REDIS_HOST: use the provider's full hostname (e.g. xxx.upstash.io) or its internal one (e.g. redis.railway.internal) from inside that network",
    };
  }
  if (raw.startsWith('NOAUTH') || raw.includes('NOAUTH')) {
    return {
      reason: 'NOAUTH',
      message: 'Redis requires authentication and no password was sent',
      hint: 'set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user), or put them in REDIS_URL',
    };
  }
  if (raw.includes('WRONGPASS') || raw.includes('invalid password') || raw.includes('invalid username-password')) {
    return {
      reason: 'WRONGPASS',
      message: 'Redis rejected the username/password pair',
      hint: 'check REDIS_USERNAME and REDIS_PASSWORD against your provider\'s dashboard (Railway and Upstash use the user "default")',
    };
  }
  if (raw.startsWith('NOPERM') || raw.includes('NOPERM')) {
    return {
      reason: 'NOPERM',
      message: `the ACL user may not run a command redkit needs: ${raw}`,
      hint: 'grant the user +@all on the key prefix, or at least the commands named in the error',
    };
  }
  // Replies of a server that is up but cannot serve anyone now (the health probe's PING gets them too).
  if (raw.startsWith('BUSY')) {
    return {
      reason: 'BUSY',
      message: `Redis at ${at} is busy running a script or function`,
      hint: 'a script runs longer than busy-reply-threshold: wait, or stop it with SCRIPT KILL / FUNCTION KILL',
    };
  }
  if (raw.startsWith('LOADING')) {
    return {
      reason: 'LOADING',
      message: `Redis at ${at} is loading its dataset into memory`,
      hint: 'it answers once loading is done (after a restart with persistence); redkit goes on by itself',
    };
  }
  if (raw.startsWith('MASTERDOWN')) {
    return {
      reason: 'MASTERDOWN',
      message: `the replica at ${at} lost its link with the primary`,
      hint: 'point redkit at the primary, or set replica-serve-stale-data yes',
    };
  }
  if (/CERT|certificate|self[- ]signed|altnames/i.test(raw) || /CERT/.test(code)) {
    return {
      reason: 'TLS_CERT',
      message: `the TLS certificate of ${at} was not accepted: ${raw}`,
      hint: 'pass the CA with options.tls = { ca } or fix the hostname; never disable verification in production',
    };
  }
  if (
    ctx.tls &&
    (/wrong version number|packet length too long|SSL routines|before secure TLS connection|EPROTO/i.test(raw) ||
      code === 'EPROTO' ||
      code.startsWith('ERR_SSL'))
  ) {
    return {
      reason: 'TLS_MISMATCH',
      message: `TLS handshake with ${at} failed: the server does not speak TLS on this port`,
      hint: "use redis:// (or REDIS_TLS=false) for this port, or point at the server's TLS port",
    };
  }
  if (/timed? ?out|ETIMEDOUT/i.test(raw) || code === 'ETIMEDOUT') {
    if (ctx.tls && /connect/i.test(raw)) {
      // A plain-text Redis never answers a TLS ClientHello; the handshake just times out.
      return {
        reason: 'TIMEOUT',
        message: `TLS handshake with ${at} timed out`,
        hint: 'if this port serves plain Redis, use redis:// or REDIS_TLS=false; otherwise check the network and REDIS_CONNECT_TIMEOUT_MS',
      };
    }
    return {
      reason: 'TIMEOUT',
      message: `Redis at ${at} did not answer in time`,
      hint: 'Redis may be paused, overloaded or behind a firewall; check the network, or raise REDIS_CONNECT_TIMEOUT_MS / REDIS_COMMAND_TIMEOUT_MS',
    };
  }
  if (!ctx.tls && (code === 'ECONNRESET' || /Connection is closed|socket hang up|ECONNRESET/.test(raw))) {
    return {
      reason: 'CLOSED_IN_HANDSHAKE',
      message: `${at} closed the connection`,
      hint: 'if this server requires TLS, use rediss:// or REDIS_TLS=true; otherwise check that it is a Redis server and that it is running',
    };
  }
  if (/Connection is closed|Stream isn't writeable|ECONNRESET|EPIPE|socket/i.test(raw)) {
    return { reason: 'CONNECTION_LOST', message: `connection to ${at} lost`, hint: 'redkit reconnects by itself with backoff; check that Redis is running' };
  }
  return { reason: 'UNKNOWN', message: raw, hint: 'run `npx redkit doctor` for a step-by-step check' };
}

/**
 * The server at `at` answered `ROLE` with something other than master: writes would fail with
 * READONLY (replica) or every command but a few (sentinel port).
 */
export function roleError(role: 'replica' | 'sentinel', at: string, topology: string): ClassifiedError {
  if (topology === 'sentinel') {
    return {
      reason: 'WRONG_ROLE',
      message: `the sentinels named ${at} as master, but it is a ${role} now`,
      hint: 'a failover is probably in progress: redkit asks the sentinels again by itself; if it lasts, run `npx redkit doctor` to see whether the sentinels agree',
    };
  }
  if (role === 'sentinel') {
    return {
      reason: 'WRONG_ROLE',
      message: `${at} is a Redis Sentinel, not a Redis server`,
      hint: 'set REDIS_SENTINELS=host:port (this address) and REDIS_SENTINEL_MASTER_NAME instead of REDIS_URL, or point REDIS_URL at the master',
    };
  }
  return {
    reason: 'WRONG_ROLE',
    message: `${at} is a read-only replica, not the master`,
    hint: 'point REDIS_URL at the primary (master) endpoint, or use REDIS_SENTINELS so that redkit follows the master',
  };
}
