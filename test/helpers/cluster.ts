import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, testCertificates } from './redis-server.js';
import { adminCall, parseInfo, pollUntil, spawnTopologyProcess, tlsArgs, type TopologyProcess } from './topology-process.js';

const run = promisify(execFile);
const SLOTS = 16384;

/** Options of a throwaway Redis Cluster. */
export interface ClusterOptions {
  /** Default 3 (the least `redis-cli --cluster create` accepts). */
  masters?: number;
  /** Default 1. */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: a master silent this long is failed over. Default 2000 (1 s risks spurious failovers on a loaded 2-core machine). */
  nodeTimeoutMs?: number;
  /** `requirepass` and `masterauth` on every node. */
  password?: string;
  /** Extra `--name value` arguments for every node. */
  args?: string[];
  /** Extra arguments for node `index` (0-based, in start order), e.g. `--cluster-announce-hostname`. */
  nodeArgs?: (index: number, port: number) => string[];
  /** Serve TLS only (client, replication and cluster bus), with the certificate of `testCertificates()`. */
  tls?: boolean;
  /** Bound on getting ready. Default 30000. */
  readyTimeoutMs?: number;
}

/** One node of a test cluster. `role` and `id` are as of the last `refresh()` (or start). */
export interface ClusterNode extends TopologyProcess {
  /** Cluster bus port (`cluster-port`), chosen free rather than port + 10000, which may exceed 65535. */
  readonly busPort: number;
  role: 'master' | 'replica';
  /** Node id (40 hex), stable across restarts (nodes.conf is kept). */
  id: string;
  /** For a replica, the id of its master. */
  masterId: string | undefined;
}

/** A real Redis Cluster on free ports. */
export interface RedisCluster {
  readonly nodes: ReadonlyArray<ClusterNode>;
  /** Seeds for a client: every node's `{ host, port }`. */
  readonly seeds: ReadonlyArray<{ host: string; port: number }>;
  /** PEM CA that signed the nodes' certificate (TLS clusters only). */
  readonly ca: string | undefined;
  /** Milliseconds from the first spawn to a cluster with every slot served and every replica in sync. */
  readonly readyMs: number;
  /** Re-reads roles and ids from a live node (CLUSTER NODES). */
  refresh(): Promise<void>;
  /** Masters whose process runs (as of the last `refresh`). */
  masters(): ClusterNode[];
  /** The replicas of `master` (after `refresh`). */
  replicasOf(master: ClusterNode): ClusterNode[];
  /** The master serving `slot` now, asked of a live node. */
  masterOf(slot: number): Promise<ClusterNode>;
  /** The master serving `key`'s slot now (CLUSTER KEYSLOT on a live node). */
  nodeForKey(key: string): Promise<ClusterNode>;
  /**
   * `CLUSTER FAILOVER` on `replica` (a graceful handover; `force` when its master is down, `takeover`
   * without a vote), then waits until it is a master and every live node sees the cluster ok.
   */
  failover(replica: ClusterNode, mode?: 'graceful' | 'force' | 'takeover', timeoutMs?: number): Promise<void>;
  /**
   * Moves `slots` slots from master `from` to master `to` with `redis-cli --cluster reshard` (keys
   * migrate with them; clients see ASK and MOVED meanwhile), then waits for `waitForOk`.
   */
  reshard(from: ClusterNode, to: ClusterNode, slots: number, timeoutMs?: number): Promise<void>;
  /** Waits until one of `oldMaster`'s replicas is master of its slots; returns it. */
  waitForPromotion(oldMaster: ClusterNode, timeoutMs?: number): Promise<ClusterNode>;
  /** Waits until every live node says `cluster_state:ok` with all slots ok and all agree on every node's role. */
  waitForOk(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the directories; safe to call twice. */
  stop(): Promise<void>;
}

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | undefined;
  slots: Array<[number, number]>;
}

/** Parses CLUSTER NODES output. */
function parseNodes(text: unknown): NodeLine[] {
  return String(text)
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const parts = line.split(' ');
      const port = Number(parts[1]!.split('@')[0]!.split(':').pop());
      const slots: Array<[number, number]> = [];
      for (const range of parts.slice(8)) {
        if (range.startsWith('[')) continue; // a slot being migrated or imported
        const [a, b] = range.split('-').map(Number);
        slots.push([a!, b ?? a!]);
      }
      return { id: parts[0]!, port, flags: parts[2]!.split(','), masterId: parts[3] === '-' ? undefined : parts[3], slots };
    });
}

/**
 * Starts `masters × (1 + replicasPerMaster)` `redis-server --cluster-enabled yes` processes, joins
 * them with `redis-cli --cluster create`, and waits until every slot is served and every node
 * agrees. No persistence except each node's nodes.conf, so a restarted node rejoins.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const count = masters * (1 + replicasPerMaster);
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const ca = options.tls ? testCertificates().caPem : undefined;
  const auth = { ...(options.password ? { password: options.password } : {}), ...(ca ? { ca } : {}) };
  const cliAuth = [
    ...(options.password ? ['-a', options.password, '--no-auth-warning'] : []),
    ...(options.tls ? ['--tls', '--cacert', testCertificates().ca] : []),
  ];
  const started = performance.now();
  const dirs: string[] = [];
  const nodes: ClusterNode[] = [];
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((n) => n.kill()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const ports: Array<[number, number]> = [];
    const taken = new Set<number>();
    while (ports.length < count) {
      const port = await freePort();
      const bus = await freePort();
      if (port === bus || taken.has(port) || taken.has(bus)) continue;
      taken.add(port);
      taken.add(bus);
      ports.push([port, bus]);
    }
    await Promise.all(
      ports.map(async ([port, busPort], index) => {
        const dir = mkdtempSync(join(tmpdir(), 'redkit-cluster-'));
        dirs.push(dir);
        const args = [
          '--bind',
          '127.0.0.1',
          ...(options.tls ? [...tlsArgs(port), '--tls-cluster', 'yes'] : ['--port', String(port)]),
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--daemonize',
          'no',
          '--protected-mode',
          'no',
          '--loglevel',
          'warning',
          // A diskless sync waits 5 s by default for more replicas to join it: nothing to wait for here.
          '--repl-diskless-sync-delay',
          '0',
          ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
          ...(options.args ?? []),
          ...(options.nodeArgs?.(index, port) ?? []),
        ];
        const proc = await spawnTopologyProcess(args, port, 'cluster node');
        nodes.push(Object.assign(proc, { busPort, role: 'master' as const, id: '', masterId: undefined }) as ClusterNode);
      }),
    );
    nodes.sort((a, b) => ports.findIndex(([p]) => p === a.port) - ports.findIndex(([p]) => p === b.port));
    const cli = ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'];
    await run('redis-cli', [...cliAuth, ...cli], { timeout: readyTimeoutMs });
  } catch (err) {
    await stop();
    throw err;
  }

  const byPort = (port: number) => nodes.find((n) => n.port === port);
  const liveNodes = () => nodes.filter((n) => n.running);
  const ask = async (args: Array<string | number>) => {
    let last: unknown;
    for (const node of liveNodes()) {
      try {
        return await adminCall(node.port, args, auth);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new Error('no cluster node is running');
  };
  const applyNodes = (lines: NodeLine[]) => {
    for (const line of lines) {
      const node = byPort(line.port);
      if (!node) continue;
      node.id = line.id;
      node.role = line.flags.includes('master') ? 'master' : 'replica';
      node.masterId = line.masterId;
    }
  };
  const refresh = async () => applyNodes(parseNodes(await ask(['CLUSTER', 'NODES'])));
  const masterOf = async (slot: number) => {
    // CLUSTER SLOTS is what clients use: its first address per range is the serving master.
    const ranges = (await ask(['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number, string]]>;
    for (const [from, to, [, port]] of ranges) {
      if (slot >= from && slot <= to) return byPort(Number(port)) ?? Promise.reject(new Error(`slot ${slot} is served by unknown port ${port}`));
    }
    throw new Error(`slot ${slot} is not served by any node`);
  };

  // Every live node must agree: all slots ok, and the same master for every slot range.
  const waitForOk = async (timeoutMs = readyTimeoutMs) => {
    let detail = 'no answer yet';
    await pollUntil(
      async () => {
        const views: string[] = [];
        for (const node of liveNodes()) {
          const info = parseInfo(await adminCall(node.port, ['CLUSTER', 'INFO'], auth));
          if (info.cluster_state !== 'ok' || Number(info.cluster_slots_ok) !== SLOTS) {
            detail = `port ${node.port}: cluster_state ${info.cluster_state}, ${info.cluster_slots_ok} slots ok, ${info.cluster_slots_pfail} pfail, ${info.cluster_slots_fail} fail`;
            return undefined;
          }
          const lines = parseNodes(await adminCall(node.port, ['CLUSTER', 'NODES'], auth));
          // Roles too, not just slot owners: after a handover the old master must see itself as a replica.
          const ports = new Map(lines.map((l) => [l.id, l.port]));
          const live = lines.filter((l) => !l.flags.includes('fail') && !l.flags.includes('handshake'));
          views.push(
            live
              .map((l) => `${l.port}:${l.flags.includes('master') ? `m${l.slots.map(([a, b]) => `${a}-${b}`).join(',')}` : `r${ports.get(l.masterId!)}`}`)
              .sort()
              .join(' '),
          );
          if (node === liveNodes()[0]) applyNodes(lines);
        }
        if (new Set(views).size !== 1) {
          detail = `nodes disagree on the roles: ${[...new Set(views)].join(' | ')}`;
          return undefined;
        }
        return true;
      },
      timeoutMs,
      () => `cluster ok on every live node (${detail})`,
    );
  };

  try {
    await waitForOk();
    // A replica that has not finished its first sync cannot be promoted: wait for every link.
    await pollUntil(
      async () => {
        for (const node of nodes.filter((n) => n.role === 'replica')) {
          if (parseInfo(await adminCall(node.port, ['INFO', 'replication'], auth)).master_link_status !== 'up') return undefined;
        }
        return true;
      },
      readyTimeoutMs,
      () => 'every replica in sync with its master',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const readyMs = performance.now() - started;

  return {
    nodes,
    ca,
    seeds: nodes.map((n) => ({ host: n.host, port: n.port })),
    readyMs,
    refresh,
    masters: () => nodes.filter((n) => n.role === 'master' && n.running),
    replicasOf: (master) => nodes.filter((n) => n.masterId === master.id),
    masterOf,
    nodeForKey: async (key) => masterOf(Number(await ask(['CLUSTER', 'KEYSLOT', key]))),
    failover: async (replica, mode = 'graceful', timeoutMs = 15_000) => {
      await adminCall(replica.port, ['CLUSTER', 'FAILOVER', ...(mode === 'graceful' ? [] : [mode.toUpperCase()])], auth);
      await pollUntil(
        async () => (parseInfo(await adminCall(replica.port, ['INFO', 'replication'], auth)).role === 'master' ? true : undefined),
        timeoutMs,
        () => `port ${replica.port} to become master`,
      );
      await waitForOk(timeoutMs);
    },
    reshard: async (from, to, slots, timeoutMs = 60_000) => {
      await refresh();
      const cli = [
        '--cluster',
        'reshard',
        `127.0.0.1:${from.port}`,
        '--cluster-from',
        from.id,
        '--cluster-to',
        to.id,
        '--cluster-slots',
        String(slots),
        '--cluster-yes',
      ];
      await run('redis-cli', [...cliAuth, ...cli], { timeout: timeoutMs });
      await waitForOk(timeoutMs);
    },
    waitForPromotion: async (oldMaster, timeoutMs = 15_000) => {
      const replicas = nodes.filter((n) => n.masterId === oldMaster.id && n !== oldMaster);
      if (replicas.length === 0) throw new Error(`port ${oldMaster.port} has no replica to promote`);
      const promoted = await pollUntil(
        async () => {
          for (const r of replicas.filter((n) => n.running)) {
            const lines = parseNodes(await adminCall(r.port, ['CLUSTER', 'NODES'], auth));
            if (lines.find((l) => l.port === r.port)?.flags.includes('master')) return r;
          }
          return undefined;
        },
        timeoutMs,
        () => `a replica of port ${oldMaster.port} to be promoted`,
      );
      await waitForOk(timeoutMs);
      return promoted;
    },
    waitForOk,
    stop,
  };
}
