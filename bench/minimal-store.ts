// The physical limit of a Redis session store: one GET per read, one SET per write, on ioredis 6.
import type { Redis } from 'ioredis';

/** No user layout, no epoch, no checks: what any Redis-backed koa-session store must at least do. */
export class MinimalStore {
  readonly redis: Redis;
  readonly prefix: string;
  constructor(redis: Redis, prefix = 'min:') {
    this.redis = redis;
    this.prefix = prefix;
  }

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const raw = await this.redis.get(this.prefix + key);
    return raw === null ? undefined : (JSON.parse(raw) as Record<string, unknown>);
  }

  async set(key: string, session: Record<string, unknown>, maxAge?: number | 'session'): Promise<void> {
    const ttl = typeof maxAge === 'number' ? maxAge : 86_400_000;
    await this.redis.set(this.prefix + key, JSON.stringify(session), 'PX', ttl);
  }

  async destroy(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}
