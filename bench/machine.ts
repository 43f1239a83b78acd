// The machine and software a run measured, read at run time.
import { readFileSync } from 'node:fs';
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
