// A real local Redis Cluster for tests: redis-server processes on loopback, joined by redis-cli --cluster create.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, INSTALL_HINT, redisServerAvailable, waitForPing } from './redis-server.js';

/*
 * Every node gets a free port, a free cluster-bus port (`cluster-port`, Redis 7, so the bus is not
 * forced to port + 10000), its own temporary directory for nodes.conf, and no persistence.
 * `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes` assigns the slots, then we
 * poll (never sleep) until every node reports cluster_state:ok and every replica's link is up.
 * Every process started is killed by stop(), by a failed start, and on process exit.
 */

export interface ClusterNode {
  port: number;
  busPort: number;
  dir: string;
  process: ChildProcess;
  args: string[];
}

export interface LocalCluster {
  nodes: ClusterNode[];
  startupNodes: { host: string; port: number }[];
  /** A plain connection to one node, for CLUSTER and INFO commands. */
  admin(port: number): Redis;
  /** `master` or `slave`, as the node reports it now. */
  role(port: number): Promise<string>;
  /** The port of the master serving a slot, and the ports of its replicas. */
  shard(slot: number): Promise<{ master: number; replicas: number[] }>;
  /** Resolves when every running node reports cluster_state:ok and agrees on the masters. */
  converged(timeoutMs?: number): Promise<void>;
  kill(port: number): Promise<void>;
  restart(port: number): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function launch(node: Omit<ClusterNode, 'process'>): ChildProcess {
  const child = spawn('redis-server', node.args, { stdio: ['ignore', 'ignore', 'inherit'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

async function poll(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`local cluster: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startCluster(
  options: { masters?: number; replicas?: number; nodeTimeout?: number } = {},
): Promise<LocalCluster> {
  if (!redisServerAvailable()) throw new Error(INSTALL_HINT);
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 1;
  const nodeTimeout = options.nodeTimeout ?? 1_000;
  const nodes: ClusterNode[] = [];
  const admins = new Map<number, Redis>();

  const cluster: LocalCluster = {
    nodes,
    get startupNodes() {
      return nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
    },
    admin(port) {
      let client = admins.get(port);
      if (!client) {
        client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
        client.on('error', () => {});
        admins.set(port, client);
      }
      return client;
    },
    async role(port) {
      const info = await cluster.admin(port).info('replication');
      return /role:(\w+)/.exec(info)?.[1] ?? 'unknown';
    },
    async shard(slot) {
      const alive = nodes.find((n) => n.process.exitCode === null && n.process.signalCode === null)!;
      // CLUSTER NODES lists replicas even before their first replication ping (CLUSTER SLOTS does not).
      const lines = String(await cluster.admin(alive.port).cluster('NODES'))
        .trim()
        .split('\n');
      const parsed = lines.map((line) => {
        const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
        return { id, port: Number(/:(\d+)@/.exec(address!)?.[1]), flags: flags!.split(','), masterId, slots };
      });
      const master = parsed.find(
        (n) =>
          n.flags.includes('master') &&
          !n.flags.includes('fail') &&
          n.slots.some((range) => {
            const [from, to = from] = range.split('-').map(Number);
            return slot >= from! && slot <= to!;
          }),
      );
      if (!master) throw new Error(`local cluster: no master serves slot ${slot}`);
      const replicas = parsed
        .filter((n) => n.masterId === master.id && !n.flags.includes('fail'))
        .map((n) => n.port);
      return { master: master.port, replicas };
    },
    async converged(timeoutMs = 30_000) {
      await poll(
        'cluster_state:ok on every node, every replica linked, one view of the masters',
        async () => {
          const alive = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
          const views: string[] = [];
          let linked = 0;
          for (const node of alive) {
            const info = await cluster.admin(node.port).cluster('INFO');
            if (!/cluster_state:ok/.test(String(info))) return false;
            const replication = await cluster.admin(node.port).info('replication');
            if (/role:slave/.test(replication)) {
              if (!/master_link_status:up/.test(replication)) return false;
              linked += 1;
            }
            const slots = (await cluster.admin(node.port).cluster('SLOTS')) as unknown as [
              number,
              number,
              [string, number],
            ][];
            views.push(JSON.stringify(slots.map(([from, to, master]) => [from, to, master[1]]).sort()));
          }
          return new Set(views).size === 1 && linked === alive.length - masters;
        },
        timeoutMs,
      );
    },
    async kill(port) {
      const node = nodes.find((n) => n.port === port)!;
      if (node.process.exitCode !== null || node.process.signalCode !== null) return;
      const gone = new Promise((resolve) => node.process.once('exit', resolve));
      node.process.kill('SIGKILL');
      await gone;
      admins.get(port)?.disconnect();
      admins.delete(port);
    },
    async restart(port) {
      const node = nodes.find((n) => n.port === port)!;
      node.process = launch(node);
      await waitForPing(port);
    },
    async stop() {
      for (const client of admins.values()) client.disconnect();
      admins.clear();
      await Promise.all(
        nodes.map(async (node) => {
          if (node.process.exitCode === null && node.process.signalCode === null) {
            const gone = new Promise((resolve) => node.process.once('exit', resolve));
            node.process.kill('SIGCONT');
            node.process.kill('SIGKILL');
            await gone;
          }
          rmSync(node.dir, { recursive: true, force: true });
        }),
      );
    },
  };

  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await freePort();
      let busPort = await freePort();
      while (busPort === port) busPort = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'kes-cluster-'));
      const args = [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
        '--cluster-node-timeout',
        String(nodeTimeout),
        // Replicas sync at once (the default waits 5 s for more replicas to share the transfer),
        // and report their offset every second, so CLUSTER SLOTS lists them soon.
        '--repl-diskless-sync-delay',
        '0',
        '--repl-ping-replica-period',
        '1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        '',
        '--loglevel',
        'warning',
      ];
      const spec = { port, busPort, dir, args };
      nodes.push({ ...spec, process: launch(spec) });
    }
    await Promise.all(nodes.map((n) => waitForPing(n.port)));
    const create = await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    if (create.code !== 0 || !/All 16384 slots covered/.test(create.output)) {
      throw new Error(
        `redis-cli --cluster create failed (exit ${create.code}):\n${create.output.slice(-2_000)}`,
      );
    }
    await cluster.converged();
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw new Error(
      `koa-epoch-session tests: could not form a local Redis Cluster (${masters} masters, ${replicas} replica each): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** CRC16/XMODEM, as Redis Cluster uses it to map keys to slots. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The Cluster slot of a key, hash tags included: the text between the first `{` and the next `}`, if not empty. */
export function keySlot(key: string | Buffer): number {
  let bytes = typeof key === 'string' ? Buffer.from(key) : key;
  const open = bytes.indexOf('{');
  if (open !== -1) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % 16_384;
}
