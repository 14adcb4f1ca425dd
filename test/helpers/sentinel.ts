import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, testCertificates } from './redis-server.js';
import { adminCall, parseInfo, pollUntil, spawnTopologyProcess, tlsArgs, type TopologyProcess } from './topology-process.js';

/** Options of a throwaway Sentinel set. */
export interface SentinelSetOptions {
  /** Replicas of the master. Default 2. */
  replicas?: number;
  /** Sentinels; the quorum is a majority of them. Default 3. */
  sentinels?: number;
  /** Default `mymaster`. */
  masterName?: string;
  /** `down-after-milliseconds`: a master silent this long is subjectively down. Default 1000. */
  downAfterMs?: number;
  /** `failover-timeout`. Default 3000. */
  failoverTimeoutMs?: number;
  /** `requirepass` and `masterauth` on the master and replicas (sentinels use it as `auth-pass`). */
  password?: string;
  /** `requirepass` on the sentinels themselves. */
  sentinelPassword?: string;
  /** Serve TLS only on every data node and sentinel (replication and sentinel links too). */
  tls?: boolean;
  /** Bound on getting ready. Default 30000. */
  readyTimeoutMs?: number;
}

/** A master or replica of the set. `role` is as started, or as of the last `refresh()`. */
export interface SentinelDataNode extends TopologyProcess {
  role: 'master' | 'replica';
}

/** A real master + replicas + sentinels on free ports. */
export interface SentinelSet {
  readonly masterName: string;
  /** The master first, then the replicas, as started. */
  readonly dataNodes: ReadonlyArray<SentinelDataNode>;
  readonly sentinels: ReadonlyArray<TopologyProcess>;
  /** `{ host, port }` of every sentinel, for a client's `sentinels` option. */
  readonly sentinelAddresses: ReadonlyArray<{ host: string; port: number }>;
  /** PEM CA that signed every node's certificate (TLS sets only). */
  readonly ca: string | undefined;
  /** Milliseconds from the first spawn to every sentinel knowing the master, the replicas and each other. */
  readonly readyMs: number;
  /** The data node a live sentinel names as master now (SENTINEL GET-MASTER-ADDR-BY-NAME). */
  currentMaster(): Promise<SentinelDataNode>;
  /** Re-reads every running data node's role (ROLE); a node that does not answer keeps its last one. */
  refresh(): Promise<void>;
  /** `SENTINEL FAILOVER` on a live sentinel; resolves with the new master once the sentinels agree on it. */
  failover(timeoutMs?: number): Promise<SentinelDataNode>;
  /**
   * Waits until a majority of the live sentinels name a master other than `oldPort` and that node
   * says it is a master; returns it.
   */
  waitForNewMaster(oldPort: number, timeoutMs?: number): Promise<SentinelDataNode>;
  /** Kills every process and removes the directories; safe to call twice. */
  stop(): Promise<void>;
}

// A diskless sync waits 5 s by default for more replicas to join it: nothing to wait for here.
const commonArgs = (dir: string) => [
  '--bind',
  '127.0.0.1',
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
  '--repl-diskless-sync-delay',
  '0',
];

/**
 * Starts 1 master, `replicas` replicas (`--replicaof`) and `sentinels` `redis-server --sentinel`
 * processes monitoring it with quorum = majority, and waits until every sentinel sees the master,
 * every replica and every other sentinel (2.3–2.8 s here: sentinels find each other by hello
 * messages every 2 s). Restarted nodes keep their arguments: the old master comes back as an empty
 * master until a sentinel converts it (about 11 s here: sentinels INFO a replica every 10 s).
 */
export async function startSentinelSet(options: SentinelSetOptions = {}): Promise<SentinelSet> {
  const replicaCount = options.replicas ?? 2;
  const sentinelCount = options.sentinels ?? 3;
  const masterName = options.masterName ?? 'mymaster';
  const quorum = Math.floor(sentinelCount / 2) + 1;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const ca = options.tls ? testCertificates().caPem : undefined;
  const auth = { ...(options.password ? { password: options.password } : {}), ...(ca ? { ca } : {}) };
  const sentinelAuth = { ...(options.sentinelPassword ? { password: options.sentinelPassword } : {}), ...(ca ? { ca } : {}) };
  const listen = (port: number) => (options.tls ? tlsArgs(port) : ['--port', String(port)]);
  const started = performance.now();
  const dirs: string[] = [];
  const dataNodes: SentinelDataNode[] = [];
  const sentinels: TopologyProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...sentinels, ...dataNodes].map((p) => p.kill()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  const newDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'redkit-sentinel-'));
    dirs.push(dir);
    return dir;
  };
  const passArgs = options.password ? ['--requirepass', options.password, '--masterauth', options.password] : [];

  try {
    const masterPort = await freePort();
    dataNodes.push(
      Object.assign(await spawnTopologyProcess([...commonArgs(newDir()), ...listen(masterPort), ...passArgs], masterPort, 'sentinel-set master'), {
        role: 'master' as const,
      }),
    );
    const replicaPorts = await Promise.all(Array.from({ length: replicaCount }, () => freePort()));
    await Promise.all(
      replicaPorts.map(async (port) => {
        const args = [...commonArgs(newDir()), ...listen(port), '--replicaof', '127.0.0.1', String(masterPort), ...passArgs];
        dataNodes.push(Object.assign(await spawnTopologyProcess(args, port, 'sentinel-set replica'), { role: 'replica' as const }));
      }),
    );
    // Sentinels learn replicas from the master's INFO and read each replica's INFO once, then every
    // 10 s: started before the first sync ends, they would see a replica link down for 10 s.
    await pollUntil(
      async () => {
        for (const port of replicaPorts) {
          if (parseInfo(await adminCall(port, ['INFO', 'replication'], auth)).master_link_status !== 'up') return undefined;
        }
        return true;
      },
      readyTimeoutMs,
      () => `${replicaCount} replicas in sync with the master`,
    );
    const sentinelPorts: number[] = [];
    while (sentinelPorts.length < sentinelCount) {
      const port = await freePort();
      if (!sentinelPorts.includes(port) && port !== masterPort && !replicaPorts.includes(port)) sentinelPorts.push(port);
    }
    await Promise.all(
      sentinelPorts.map(async (port) => {
        const dir = newDir();
        const conf = join(dir, 'sentinel.conf');
        // The sentinel rewrites this file (known replicas, epochs): it lives in the sentinel's own directory.
        // Sentinel reads TLS settings from its file only; tls-replication makes it dial the data nodes over TLS.
        const tlsLines = options.tls ? ['port 0', ...pairsOf(tlsArgs(port).slice(2))] : [`port ${port}`];
        writeFileSync(
          conf,
          [
            ...tlsLines,
            'bind 127.0.0.1',
            'protected-mode no',
            `dir ${dir}`,
            'daemonize no',
            'loglevel warning',
            ...(options.sentinelPassword ? [`requirepass ${options.sentinelPassword}`] : []),
            `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${quorum}`,
            `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
            `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 3000}`,
            `sentinel parallel-syncs ${masterName} 1`,
            ...(options.password ? [`sentinel auth-pass ${masterName} ${options.password}`] : []),
            ...(options.sentinelPassword ? [`sentinel sentinel-pass ${options.sentinelPassword}`] : []),
            '',
          ].join('\n'),
        );
        sentinels.push(await spawnTopologyProcess([conf, '--sentinel'], port, 'sentinel'));
      }),
    );
    sentinels.sort((a, b) => sentinelPorts.indexOf(a.port) - sentinelPorts.indexOf(b.port));

    let detail = 'no answer yet';
    await pollUntil(
      async () => {
        for (const s of sentinels) {
          const master = pairs(await adminCall(s.port, ['SENTINEL', 'MASTER', masterName], sentinelAuth));
          const replicas = ((await adminCall(s.port, ['SENTINEL', 'REPLICAS', masterName], sentinelAuth)) as string[][]).map(pairs);
          const healthy = replicas.filter((r) => !/s_down|disconnected/.test(r.flags ?? '') && r['master-link-status'] === 'ok');
          if (master.port !== String(masterPort) || healthy.length !== replicaCount || Number(master['num-other-sentinels']) !== sentinelCount - 1) {
            detail = `sentinel ${s.port}: master port ${master.port}, ${healthy.length}/${replicaCount} replicas, ${master['num-other-sentinels']}/${sentinelCount - 1} other sentinels`;
            return undefined;
          }
        }
        return true;
      },
      readyTimeoutMs,
      () => `every sentinel to know the set (${detail})`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const readyMs = performance.now() - started;

  const byPort = (port: number) => {
    const node = dataNodes.find((n) => n.port === port);
    if (!node) throw new Error(`the sentinels name port ${port}, which is not a node of this set`);
    return node;
  };
  /** Master port per live sentinel that answers. */
  const masterPorts = async () => {
    const answers: number[] = [];
    for (const s of sentinels.filter((p) => p.running)) {
      try {
        const addr = (await adminCall(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName], { ...sentinelAuth, timeoutMs: 500 })) as
          | [string, string]
          | null;
        if (addr) answers.push(Number(addr[1]));
      } catch {
        /* a paused or killed sentinel does not vote */
      }
    }
    return answers;
  };
  const refresh = async () => {
    for (const node of dataNodes.filter((n) => n.running)) {
      try {
        const role = ((await adminCall(node.port, ['ROLE'], { ...auth, timeoutMs: 500 })) as [string])[0];
        node.role = role === 'master' ? 'master' : 'replica';
      } catch {
        /* a paused node keeps its last known role */
      }
    }
  };
  const waitForNewMaster = async (oldPort: number, timeoutMs = 15_000) => {
    const majority = Math.floor(sentinels.filter((p) => p.running).length / 2) + 1;
    let seen: number[] = [];
    return pollUntil(
      async () => {
        seen = await masterPorts();
        const counts = new Map<number, number>();
        for (const port of seen) counts.set(port, (counts.get(port) ?? 0) + 1);
        const winner = [...counts].find(([port, n]) => port !== oldPort && n >= majority)?.[0];
        if (winner === undefined) return undefined;
        const node = byPort(winner);
        if (((await adminCall(winner, ['ROLE'], auth)) as [string])[0] !== 'master') return undefined;
        node.role = 'master';
        return node;
      },
      timeoutMs,
      () => `a majority of sentinels to name a master other than port ${oldPort} (they name ${seen.join(', ') || 'nothing'})`,
    );
  };

  return {
    masterName,
    dataNodes,
    sentinels,
    ca,
    sentinelAddresses: sentinels.map((s) => ({ host: s.host, port: s.port })),
    readyMs,
    currentMaster: async () => {
      const ports = await masterPorts();
      if (ports.length === 0) throw new Error('no sentinel answered GET-MASTER-ADDR-BY-NAME');
      return byPort(ports[0]!);
    },
    refresh,
    failover: async (timeoutMs = 15_000) => {
      const old = (await masterPorts())[0];
      if (old === undefined) throw new Error('no sentinel answered before SENTINEL FAILOVER');
      const sentinel = sentinels.find((p) => p.running)!;
      await adminCall(sentinel.port, ['SENTINEL', 'FAILOVER', masterName], sentinelAuth);
      const node = await waitForNewMaster(old, timeoutMs);
      await refresh();
      return node;
    },
    waitForNewMaster,
    stop,
  };
}

/** `['--a', 'x', '--b', 'y']` → `['a x', 'b y']`: command-line options as config-file lines. */
function pairsOf(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < args.length; i += 2) out.push(`${args[i]!.replace(/^--/, '')} ${args[i + 1]}`);
  return out;
}

/** SENTINEL MASTER / REPLICAS replies are flat [field, value, …] arrays. */
function pairs(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const list = flat as string[];
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}
