// Redis memory per session, from INFO memory: this store (registry off and on) against the koa-redis layout.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RANDOM_LENGTH } from '../lib/core/keys.js';
import { benchUser, MAX_AGE, SESSION_DATA } from './fixtures.js';
import { load } from './load.js';
import { privateRedis, startApp } from './processes.js';
import { usedMemory } from './redis-info.js';

export type Layout = 'koa-redis' | 'koa-redis-zset' | 'epoch' | 'epoch-registry';

export const LAYOUTS: Record<Layout, string> = {
  'koa-redis': 'koa-redis layout `sess:<uid>:<sid>`',
  'koa-redis-zset': 'same + per-user sorted-set index',
  epoch: 'this store, registry off',
  'epoch-registry': 'this store, registry on',
};

export interface MemoryPlan {
  sessions: number;
  users: number;
}

export interface MemoryPoint {
  layout: Layout;
  keys: number;
  usedBefore: number;
  usedAfter: number;
  bytesPerSession: number;
  kinds: Inventory;
}

export interface MemoryResult {
  plan: MemoryPlan;
  sessionJsonBytes: number;
  points: MemoryPoint[];
}

/** The value koa-session hands koa-redis: the data, the user id the app keeps in it, and koa-session's expiry. */
function classicValue(userId: string): string {
  return JSON.stringify({ ...SESSION_DATA, uid: userId, _expire: Date.now() + MAX_AGE, _maxAge: MAX_AGE });
}

/**
 * koa-redis stores whatever key koa-session gives it; `sess:<uid>:<sid>` with koa-session's default
 * genid (a UUID) is the layout apps use to find a user's sessions. Written directly, with SETEX as
 * koa-redis does, pipelined in batches.
 */
async function writeClassic(redis: Redis, plan: MemoryPlan, withIndex: boolean): Promise<void> {
  const ttlSeconds = Math.ceil(MAX_AGE / 1000);
  for (let from = 0; from < plan.sessions; from += 1000) {
    const pipeline = redis.pipeline();
    for (let i = from; i < Math.min(from + 1000, plan.sessions); i++) {
      const userId = benchUser(i % plan.users);
      const key = `sess:${userId}:${randomUUID()}`;
      pipeline.setex(key, ttlSeconds, classicValue(userId));
      if (withIndex) {
        pipeline.zadd(`sess:${userId}:index`, Date.now() + MAX_AGE, key);
        pipeline.pexpire(`sess:${userId}:index`, MAX_AGE);
      }
    }
    await pipeline.exec();
  }
}

/** Signs `sessions` logins in through the real app (POST /login), round-robin over `users` ids. */
async function writeEpoch(url: string, plan: MemoryPlan, registry: boolean, admin: Redis) {
  const app = await startApp({ store: 'epoch', redisUrl: url, registry, users: plan.users });
  try {
    // Load the scripts before the baseline: the script cache is not session data.
    await load(app, { path: '/login', method: 'POST', connections: 1, amount: 1 });
    await admin.flushall('SYNC');
    return await measured(admin, async () => {
      const result = await load(app, {
        path: '/login',
        method: 'POST',
        connections: 10,
        amount: plan.sessions,
      });
      if (result.failures > 0 || result.requests !== plan.sessions)
        throw new Error(`bench: memory logins: ${result.failures} failed of ${result.requests}`);
    });
  } finally {
    await app.stop();
  }
}

/** INFO memory used_memory around the writes. */
async function measured(
  admin: Redis,
  write: () => Promise<void>,
): Promise<{ before: number; after: number }> {
  const before = await usedMemory(admin);
  await write();
  return { before, after: await usedMemory(admin) };
}

export type KeyKind = 'session' | 'epoch' | 'registry' | 'devices' | 'index' | 'other';

/** Keys of one kind: how many, and their summed MEMORY USAGE (value, key name, entry; not dict tables). */
export type Inventory = Partial<Record<KeyKind, { keys: number; bytes: number }>>;

function kindOf(key: string, layout: Layout): KeyKind {
  if (layout === 'koa-redis' || layout === 'koa-redis-zset') {
    if (key.endsWith(':index')) return 'index';
    return /^sess:[^:]+:[0-9a-f-]{36}$/.test(key) ? 'session' : 'other';
  }
  const suffix = key.slice(key.indexOf('}:') + 2);
  if (suffix === 'e') return 'epoch';
  if (suffix === 'r') return 'registry';
  if (suffix === 'd') return 'devices';
  return new RegExp(`^[A-Za-z0-9_-]{${RANDOM_LENGTH}}:[A-Za-z0-9_-]+$`).test(suffix) ? 'session' : 'other';
}

/** Every key, classified, with MEMORY USAGE (exact: SAMPLES 0), pipelined per SCAN page. */
async function inventory(redis: Redis, layout: Layout): Promise<Inventory> {
  const out: Inventory = {};
  let cursor = '0';
  // Bounded: SCAN returns to cursor 0 after visiting every key once.
  for (let calls = 0; calls < 1_000_000; calls++) {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const kind = kindOf(key, layout);
      const entry = out[kind] ?? { keys: 0, bytes: 0 };
      out[kind] = entry;
      entry.keys += 1;
      entry.bytes += Number(sizes[i]?.[1] ?? 0);
    });
    cursor = next;
    if (cursor === '0') return out;
  }
  throw new Error('bench: SCAN did not finish');
}

export async function runMemory(plan: MemoryPlan, log: (line: string) => void): Promise<MemoryResult> {
  const points: MemoryPoint[] = [];
  for (const layout of Object.keys(LAYOUTS) as Layout[]) {
    log(`memory: ${LAYOUTS[layout]}, ${plan.sessions.toLocaleString('en')} sessions`);
    const server = await privateRedis();
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      await admin.ping();
      const { before, after } =
        layout === 'epoch' || layout === 'epoch-registry'
          ? await writeEpoch(server.url, plan, layout === 'epoch-registry', admin)
          : await measured(admin, () => writeClassic(admin, plan, layout === 'koa-redis-zset'));
      const keys = await admin.dbsize();
      // Every login must have left exactly one session key; the rest are per-user keys.
      const kinds = await inventory(admin, layout);
      const sessionKeys = kinds.session?.keys ?? 0;
      if (sessionKeys !== plan.sessions)
        throw new Error(`bench: memory ${layout}: ${sessionKeys} session keys, expected ${plan.sessions}`);
      points.push({
        layout,
        keys,
        usedBefore: before,
        usedAfter: after,
        bytesPerSession: (after - before) / plan.sessions,
        kinds,
      });
    } finally {
      admin.disconnect();
      await server.stop();
    }
  }
  return { plan, sessionJsonBytes: JSON.stringify(SESSION_DATA).length, points };
}
