// One attempt to reach the Redis at REDIS_URL before the tests or the demo start, and one line that says why not.
import { Redis } from 'ioredis';

/** What a person can act on, for the system errors a connection attempt ends with. */
const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** The URL as it may be printed: a password never reaches a terminal or a log. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

/**
 * Connects once (no retries, a 5 s bound), checks that Redis answers and that the database the
 * URL names can be selected, and disconnects. ioredis would otherwise retry forever and print
 * "Unhandled error event" for each attempt, or quietly stay in database 0 when SELECT fails.
 */
export async function checkRedis(url: string): Promise<void> {
  const where = redactRedisUrl(url);
  let db: number;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error('protocol');
    const path = parsed.pathname.slice(1);
    if (path !== '' && !/^[0-9]+$/.test(path)) throw new Error('database');
    db = Number(path || 0);
  } catch {
    throw new RedisUnreachableError(
      `REDIS_URL must look like redis://host:6379 or redis://host:6379/<db> (got ${where})`,
    );
  }
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5_000,
    commandTimeout: 5_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let cause: (Error & { code?: string }) | undefined;
  redis.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    try {
      await redis.connect();
    } catch (error) {
      const failure = (cause ?? error) as Error & { code?: string };
      const reason = (failure.code && CAUSES[failure.code]) || failure.message;
      throw new RedisUnreachableError(`cannot connect to Redis at ${where}: ${reason}`, { cause: failure });
    }
    try {
      await redis.ping();
      if (db !== 0) await redis.select(db);
    } catch (error) {
      throw new RedisUnreachableError(`cannot use Redis at ${where}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  } finally {
    redis.disconnect();
  }
}
