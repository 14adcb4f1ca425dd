import { parseTrustProxy, type TrustProxy } from 'redkit';

/** Reference-server settings from env (redkit's own REDIS_* variables are read by redkit). */
export interface AppSettings {
  port: number;
  host: string;
  logLevel: string;
  /** Bearer token for /api/admin/*; admin routes are disabled when unset. */
  adminToken: string | undefined;
  /** `HEALTH_DETAILS=true`: /api/health shows Redis host, port, errors and fix hints to every caller. Default false (admin token only). */
  healthDetails: boolean;
  /**
   * `TRUST_PROXY`: which proxies may name the client in X-Forwarded-For for per-IP limits —
   * `1` behind one proxy (Fly, Railway, Render), a hop count, addresses / CIDRs, `true`, or
   * `false` (default: key by the socket's peer).
   */
  trustProxy: Exclude<TrustProxy, (address: string, hop: number) => boolean>;
  env: Record<string, string | undefined>;
}

/** Reads the server's settings; throws with the variable's name on bad input. */
export function readSettings(env: Record<string, string | undefined> = process.env): AppSettings {
  const rawPort = env.PORT ?? '3000';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a whole number from 0 to 65535 (got "${rawPort}")`);
  }
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    logLevel: env.LOG_LEVEL ?? 'info',
    adminToken: env.ADMIN_TOKEN || undefined,
    healthDetails: env.HEALTH_DETAILS === 'true' || env.HEALTH_DETAILS === '1',
    trustProxy: parseTrustProxy(env.TRUST_PROXY, 'TRUST_PROXY'),
    env,
  };
}
