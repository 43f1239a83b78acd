// The machine and software a run measured, read at run time.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Redis } from 'ioredis';
import { privateRedis } from './processes.js';
import { redisVersion } from './redis-info.js';

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memoryGiB: number;
  os: string;
  node: string;
  redis: string;
  packages: Record<string, string>;
  loadAverage: number[];
}

const require = createRequire(import.meta.url);

function version(spec: string): string {
  try {
    const path = require.resolve(`${spec}/package.json`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** ioredis as koa-redis resolves it: its own nested copy (ioredis 4). */
function koaRedisIoredis(): string {
  try {
    const koaRedis = require.resolve('koa-redis');
    const nested = createRequire(koaRedis).resolve('ioredis/package.json');
    return (JSON.parse(readFileSync(nested, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function describeMachine(): Promise<Machine> {
  const server = await privateRedis();
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  try {
    return {
      date: new Date().toISOString(),
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      redis: await redisVersion(admin),
      packages: {
        koa: version('koa'),
        'koa-session': version('koa-session'),
        ioredis: version('ioredis'),
        'koa-redis': version('koa-redis'),
        'ioredis (inside koa-redis)': koaRedisIoredis(),
        autocannon: version('autocannon'),
      },
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    };
  } finally {
    admin.disconnect();
    await server.stop();
  }
}

export function machineLines(m: Machine): string[] {
  const packages = Object.entries(m.packages)
    .map(([name, v]) => `${name} ${v}`)
    .join(', ');
  return [
    `- ${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}`,
    `- Node ${m.node}, Redis ${m.redis} (private redis-server per measurement, loopback only)`,
    `- ${packages}`,
    `- load average at start ${m.loadAverage.join(' / ')}; run started ${m.date}`,
  ];
}

/** CPU time on the whole machine and in this bench's process tree, in seconds, from /proc. */
export interface CpuSnapshot {
  at: number;
  busy: number;
  steal: number;
  bench: number;
}

/** Linux's USER_HZ: /proc counts CPU time in these ticks, 100 on every mainstream build. */
const TICKS_PER_SECOND = 100;

function procStat(pid: string): { ppid: number; own: number; children: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      own: Number(f[11]) + Number(f[12]),
      children: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined;
  }
}

/**
 * A snapshot of where the machine's CPU went. The bench's tree is this process and every live
 * descendant (app processes, redis-servers), plus the children it has already reaped (cutime).
 */
export function cpuSnapshot(): CpuSnapshot {
  const at = performance.now() / 1000;
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    const stats = new Map<number, { ppid: number; own: number; children: number }>();
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const s = procStat(pid);
      if (s) stats.set(Number(pid), s);
    }
    const inTree = (pid: number): boolean => {
      // Bounded: a parent chain ends at pid 1 or 0 within the depth of the process tree.
      for (let p = pid, depth = 0; p > 1 && depth < 64; p = stats.get(p)?.ppid ?? 0, depth++)
        if (p === process.pid) return true;
      return false;
    };
    let bench = 0;
    for (const [pid, s] of stats) if (inTree(pid)) bench += s.own + (pid === process.pid ? s.children : 0);
    return {
      at,
      busy: (user + nice + system + irq + softirq) / TICKS_PER_SECOND,
      steal: steal / TICKS_PER_SECOND,
      bench: bench / TICKS_PER_SECOND,
    };
  } catch {
    return { at, busy: Number.NaN, steal: Number.NaN, bench: Number.NaN };
  }
}

/** CPU use between two snapshots, in cores: this bench's tree, everything else, and hypervisor steal. */
export interface CpuShare {
  seconds: number;
  benchCores: number;
  otherCores: number;
  stealCores: number;
}

export function cpuShare(from: CpuSnapshot, to: CpuSnapshot): CpuShare {
  const seconds = to.at - from.at;
  const bench = to.bench - from.bench;
  return {
    seconds,
    benchCores: bench / seconds,
    otherCores: Math.max(to.busy - from.busy - bench, 0) / seconds,
    stealCores: (to.steal - from.steal) / seconds,
  };
}
