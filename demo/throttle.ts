// Failed sign-in throttle: failures per (IP, username), counted in Redis by rate-limiter-flexible.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * rate-limiter-flexible's "login endpoint protection" recipe: read the count before checking the
 * password, consume a point only when it is wrong, delete the count when it is right. The window
 * starts at the first failure and is not extended by later ones: at most `limit` wrong guesses per
 * window, after which the pair waits for that window to end.
 */
export class Throttle {
  readonly #limiter: RateLimiterRedis;

  constructor(
    readonly redis: Redis,
    readonly limit = 10,
    readonly windowMs = 15 * 60_000,
    readonly prefix = 'demo:throttle',
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError('demo: failedSignInLimit must be a whole number of at least 1');
    }
    // The library stores whole seconds; a window that rounds to 0 s would never expire.
    if (!Number.isSafeInteger(windowMs / 1000) || windowMs < 1000) {
      throw new RangeError('demo: the throttle window must be a whole number of seconds, at least 1 s');
    }
    const counting = { points: limit, duration: windowMs / 1000 };
    this.#limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: prefix,
      ...counting,
      // While Redis is unreachable, each process keeps counting in memory: guessing stays limited
      // instead of either failing open or turning every sign-in into an error page.
      insuranceLimiter: new RateLimiterMemory(counting),
    });
  }

  /** An IP never contains a space, so the pair cannot be confused with another pair. */
  #key(ip: string, username: string): string {
    return `${ip} ${username}`;
  }

  /** Milliseconds until this pair may try again, or 0 when it may try now. */
  async blockedFor(ip: string, username: string): Promise<number> {
    const counted = await this.#limiter.get(this.#key(ip, username));
    return counted && counted.consumedPoints >= this.limit ? Math.max(counted.msBeforeNext, 1000) : 0;
  }

  async failed(ip: string, username: string): Promise<void> {
    try {
      await this.#limiter.consume(this.#key(ip, username));
    } catch (rejection) {
      // A RateLimiterRes only says the count is already past the limit (concurrent failures):
      // the failure is counted all the same. Anything else is a real error and is not swallowed.
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
    }
  }

  async succeeded(ip: string, username: string): Promise<void> {
    await this.#limiter.delete(this.#key(ip, username));
  }
}
