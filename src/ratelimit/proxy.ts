import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/**
 * Which proxies in front of the app are trusted to say who the client is (`X-Forwarded-For`),
 * as Express and Fastify read `trustProxy`:
 * - `false`: none, the socket's peer is the client; `true`: all, the left-most address is the client;
 * - a number n: the n hops nearest the app are proxies (Fly, Railway, Render: 1);
 * - addresses / CIDRs (array or comma-separated), with the names `loopback`, `linklocal`,
 *   `uniquelocal`: hops from these addresses are proxies;
 * - a function `(address, hop) => boolean`.
 */
export type TrustProxy = boolean | number | string | readonly string[] | ((address: string, hop: number) => boolean);

/** Compiled `TrustProxy`: is the address at `hop` (0 = the socket's peer) a trusted proxy? */
export type TrustFn = (address: string, hop: number) => boolean;

const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** Compiles a `TrustProxy` setting; throws InvalidArgumentError naming `option` for a bad one. */
export function compileTrustProxy(value: TrustProxy, option = 'trustProxy'): TrustFn {
  if (typeof value === 'function') return value;
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new InvalidArgumentError(option, `${option} must be true, false, a hop count ≥ 0, or proxy addresses (got ${value})`);
    return (_address, hop) => hop < value;
  }
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list)) throw new InvalidArgumentError(option, `${option} must be true, false, a hop count, proxy addresses / CIDRs, or a function`);
  const blocks = new BlockList();
  for (const raw of list) {
    const item = String(raw).trim();
    if (item === '') continue;
    for (const range of NAMED[item] ?? [item]) addRange(blocks, range, option);
  }
  return (address) => {
    const ip = normalise(address);
    const family = isIP(ip);
    return family !== 0 && blocks.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
}

function addRange(blocks: BlockList, range: string, option: string): void {
  const [address = '', bits] = range.split('/');
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    throw new InvalidArgumentError(option, `${option}: "${range}" is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`);
  }
  blocks.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`. */
function normalise(address: string): string {
  const a = address.trim();
  return a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/**
 * The client address of a request: walks from the socket's peer back through
 * `X-Forwarded-For` (right to left) while each hop is trusted, and returns the first untrusted
 * one (the furthest address when every hop is trusted). `forwardedFor` may be a header list.
 */
export function clientAddress(remoteAddress: string | undefined, forwardedFor: string | readonly string[] | undefined, trust: TrustFn): string | undefined {
  if (remoteAddress === undefined || remoteAddress === '') return undefined;
  let address = normalise(remoteAddress);
  if (!trust(address, 0) || forwardedFor === undefined) return address;
  const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(','))
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1, hop = 1; i >= 0; i--, hop++) {
    const next = normalise(hops[i]!);
    // A forged or garbled hop ends the walk: what is left of it cannot be trusted.
    if (isIP(next) === 0) return address;
    address = next;
    if (!trust(address, hop)) return address;
  }
  return address;
}

/**
 * Reads a `TRUST_PROXY`-style env value: `true` / `false` (or empty), a hop count, or addresses /
 * CIDRs / names separated by commas. Throws InvalidArgumentError naming `variable`.
 */
export function parseTrustProxy(raw: string | undefined, variable = 'TRUST_PROXY'): Exclude<TrustProxy, (address: string, hop: number) => boolean> {
  const value = (raw ?? '').trim();
  if (value === '' || /^(false|0|no|off)$/i.test(value)) return false;
  if (/^(true|yes|on)$/i.test(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  compileTrustProxy(value, variable);
  return value;
}
