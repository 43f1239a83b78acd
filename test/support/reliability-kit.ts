// Shared tools of the reliability suites: scale knobs, a seeded PRNG, a keep-alive HTTP client with a cookie jar.
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type Koa from 'koa';
import { HANDLE_LENGTH, parseExternalKey, RANDOM_LENGTH } from '../../lib/core/keys.js';

/** `KES_LONG=1` runs the long variants: more trials, more inputs, longer load. CI runs the short ones. */
export const LONG = process.env.KES_LONG === '1';

/** The CI figure, or the long one, or an explicit override from the environment. */
export function scale(ci: number, long: number, override?: string): number {
  const forced = override === undefined ? Number.NaN : Number(process.env[override]);
  if (Number.isInteger(forced) && forced > 0) return forced;
  return LONG ? long : ci;
}

/** Base seed of every randomized suite; `KES_SEED=<n>` replays another run. */
export const BASE_SEED = Number(process.env.KES_SEED ?? 0x6b65_7330);

/**
 * The ioredis settings the library recommends, measured by test/reliability/redis-faults.test.ts.
 * The goal: while Redis is away a request fails fast with the 503 SessionStoreUnavailableError
 * instead of hanging, and the first request after Redis returns succeeds.
 */
export const RECOMMENDED_REDIS_OPTIONS = Object.freeze({
  /** A paused or partitioned Redis (SIGSTOP, a dead peer behind a live TCP session) fails in 500 ms. */
  commandTimeout: 500,
  /** While disconnected, fail at once instead of queueing requests behind an outage. */
  enableOfflineQueue: false,
  /** A command caught by a disconnect is retried once after the reconnect, then fails. */
  maxRetriesPerRequest: 1,
  connectTimeout: 1_000,
  /**
   * After a restart with persistence, Redis answers LOADING for a moment; ioredis then waits
   * loading_eta_seconds (at least 1 s) before checking again. Check every 100 ms instead.
   */
  maxLoadingRetryTime: 100,
  /** Reconnect quickly and keep trying: 50, 100, 200 ms, then every 250 ms. */
  retryStrategy: (times: number) => Math.min(25 * 2 ** times, 250),
}) satisfies RedisOptions;

/** The ioredis Cluster settings the library recommends; measured by test/reliability/cluster.test.ts. */
export const RECOMMENDED_CLUSTER_OPTIONS = Object.freeze({
  // Follow MOVED/ASK after a failover, and wait out the election rather than failing at once.
  maxRedirections: 16,
  retryDelayOnFailover: 100,
  retryDelayOnClusterDown: 100,
  retryDelayOnTryAgain: 100,
  slotsRefreshTimeout: 1_000,
  // Per node: a paused or partitioned node fails the request in 500 ms.
  redisOptions: { commandTimeout: 500, connectTimeout: 1_000, maxRetriesPerRequest: 1 },
}) satisfies ClusterOptions;

/** Swallows a client's `error` events (ioredis logs unhandled ones), counting them. */
export function countErrors(client: Redis | Cluster): { count: number } {
  const counter = { count: 0 };
  client.on('error', () => {
    counter.count += 1;
  });
  return counter;
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness.

/** mulberry32: small, fast and deterministic; every trial is replayable from its seed. */
export class Prng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP on loopback: a listening app and a keep-alive client.

export interface Listening {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function listen(app: Koa): Promise<Listening> {
  const server = createServer(app.callback());
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Reply {
  status: number;
  body: any;
  setCookie: string[];
  /** Milliseconds from sending to the end of the body. */
  ms: number;
}

export class HttpClient {
  readonly agent: Agent;
  readonly port: number;
  constructor(port: number, maxSockets = 64) {
    this.port = port;
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  send(method: string, path: string, cookie?: string, timeoutMs = 15_000): Promise<Reply> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: cookie === undefined ? {} : { cookie },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // Not JSON (Koa's plain 404 or 400 text): keep the text.
            }
            const setCookie = res.headers['set-cookie'] ?? [];
            resolve({ status: res.statusCode ?? 0, body, setCookie, ms: performance.now() - started });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A browser's cookie store for the session cookie and its signature. */
export class CookieJar {
  readonly values = new Map<string, string>();

  header(): string | undefined {
    if (this.values.size === 0) return undefined;
    return [...this.values].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** The session cookie's value (`<tag>.<sid>` or `<sid>`), if any. */
  get sid(): string | undefined {
    return this.values.get('sid');
  }

  absorb(setCookie: string[]): void {
    for (const line of setCookie) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (value === '' || expired) this.values.delete(name);
      else this.values.set(name, value);
    }
  }
}

/** The reliability suites sign with keygrip itself, as Koa does, not with a copy of its HMAC. */
export { sign, signedCookie } from './cookies.js';

/** The public handle of a session cookie value, or undefined for a value the store never issues. */
export function handleOf(cookieValue: string | undefined): string | undefined {
  return cookieValue === undefined ? undefined : parseExternalKey(cookieValue)?.handle;
}

/** The session cookie value a response set, or undefined (no cookie, or a cleared one). */
export function issuedValue(setCookie: string[]): string | undefined {
  const jar = new CookieJar();
  jar.absorb(setCookie);
  return jar.sid;
}

// ---------------------------------------------------------------------------------------------
// Keyspace helpers.

/** Escapes Redis glob metacharacters so a literal prefix can be used with SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

const SESSION_KEY = new RegExp(
  `^\\{([^}]+)\\}:([A-Za-z0-9_-]{${RANDOM_LENGTH}}):([A-Za-z0-9_-]{${HANDLE_LENGTH}})$`,
);

/** `sess:{<tag>}:<epoch>:<handle>`: the parts of a session key, or undefined for other keys. */
export function parseSessionKey(
  key: string,
  prefix = 'sess:',
): { tag: string; epoch: string; handle: string } | undefined {
  if (!key.startsWith(`${prefix}{`)) return undefined;
  const match = SESSION_KEY.exec(key.slice(prefix.length));
  return match ? { tag: match[1]!, epoch: match[2]!, handle: match[3]! } : undefined;
}

/** Waits for a condition by polling a probe (never a fixed sleep for a server to come up). */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  explain?: () => unknown,
): Promise<T> {
  const everyMs = 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const state = explain === undefined ? '' : `; state: ${JSON.stringify(explain())}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Prints one result line that docs/reliability.md quotes, and keeps it for the end-of-run table. */
export function record(suite: string, figures: Record<string, unknown>): void {
  const line = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`)
    .join(' ');
  process.stdout.write(`      [reliability] ${suite}: ${line}\n`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
