// Failed sign-in throttle: a counter per (IP, username) that expires on its own.
import type { Redis } from 'ioredis';

export class Throttle {
  constructor(
    readonly redis: Redis,
    readonly limit = 10,
    readonly windowMs = 15 * 60_000,
    readonly prefix = 'demo:throttle:',
  ) {}

  #key(ip: string, username: string): string {
    return `${this.prefix}${ip}:${username}`;
  }

  /** Milliseconds until this pair may try again, or 0 when it may try now. */
  async blockedFor(ip: string, username: string): Promise<number> {
    const key = this.#key(ip, username);
    const [count, ttl] = await Promise.all([this.redis.get(key), this.redis.pttl(key)]);
    return Number(count) >= this.limit ? Math.max(ttl, 1000) : 0;
  }

  async failed(ip: string, username: string): Promise<void> {
    const key = this.#key(ip, username);
    // INCR and PEXPIRE in one MULTI: the counter never exists without a TTL.
    await this.redis.multi().incr(key).pexpire(key, this.windowMs).exec();
  }

  async succeeded(ip: string, username: string): Promise<void> {
    await this.redis.unlink(this.#key(ip, username));
  }
}
