// Reading Redis's own accounting: INFO cpu, commandstats and memory, and counting a client's round trips.
import type { Redis } from 'ioredis';

export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** CPU time of Redis's main thread, in microseconds: where commands run. */
export async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = parseInfo(await redis.info('cpu'));
  const user = Number(info.get('used_cpu_user_main_thread') ?? info.get('used_cpu_user'));
  const sys = Number(info.get('used_cpu_sys_main_thread') ?? info.get('used_cpu_sys'));
  return (user + sys) * 1e6;
}

export interface CommandStat {
  calls: number;
  usec: number;
}

/** INFO commandstats as `{ command: { calls, usec } }`. Commands run by scripts are counted too. */
export async function commandStats(redis: Redis): Promise<Record<string, CommandStat>> {
  const out: Record<string, CommandStat> = {};
  for (const [key, value] of parseInfo(await redis.info('commandstats'))) {
    if (!key.startsWith('cmdstat_')) continue;
    const calls = /calls=(\d+)/.exec(value);
    const usec = /usec=(\d+)/.exec(value);
    out[key.slice('cmdstat_'.length)] = { calls: Number(calls?.[1] ?? 0), usec: Number(usec?.[1] ?? 0) };
  }
  return out;
}

export async function usedMemory(redis: Redis): Promise<number> {
  return Number(parseInfo(await redis.info('memory')).get('used_memory'));
}

export async function redisVersion(redis: Redis): Promise<string> {
  return parseInfo(await redis.info('server')).get('redis_version') ?? 'unknown';
}

/**
 * Counts the commands a client sends from now on. The scaling bench awaits each command before
 * the next, so on its client one command is one round trip.
 */
export function countRoundTrips(client: Redis): { count: () => number; reset: () => void } {
  const target = client as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const original = target.sendCommand;
  let count = 0;
  target.sendCommand = function (this: unknown, ...args: unknown[]) {
    count += 1;
    return original.apply(this, args);
  };
  return {
    count: () => count,
    reset: () => {
      count = 0;
    },
  };
}
