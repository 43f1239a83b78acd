// The operator CLI's work: a Redis connection that fails fast, the admin commands and the keyspace census.
import { type Cluster, Redis } from 'ioredis';
import { createSessionAdmin, type SessionAdmin } from '../core/admin.js';
import type { RedisClient } from '../core/driver.js';
import { SessionStoreUnavailableError } from '../core/errors.js';
import { type KeyLayout, RANDOM_LENGTH } from '../core/keys.js';
import { asSessionError } from '../core/redis-call.js';

/** Exit codes, documented in `--help` and docs/operations.md. */
export const EXIT = Object.freeze({ ok: 0, notFound: 1, usage: 2, unavailable: 3, failed: 4 });

/** An error that ends the CLI with a message and an exit code. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** One attempt, bounded in time: during an incident an operator wants the error, not a retry loop. */
const TIMEOUT_MS = 5_000;

/** The URL as it may be printed: a password in REDIS_URL never reaches a terminal or a log. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

export function checkRedisUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new CliError('REDIS_URL is not a URL; expected redis://host:port[/db] or rediss://…', EXIT.usage);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new CliError(`REDIS_URL must start with redis:// or rediss:// (got ${protocol}//)`, EXIT.usage);
  }
  const db = new URL(url).pathname.slice(1);
  if (db !== '' && !/^[0-9]{1,5}$/.test(db)) {
    throw new CliError(
      `REDIS_URL names database ${JSON.stringify(db)}; it must be a number, as in redis://host:6379/2`,
      EXIT.usage,
    );
  }
}

/** The database a REDIS_URL names (its path), 0 when it names none. */
function databaseOf(url: string): number {
  return Number(new URL(url).pathname.slice(1) || 0);
}

/**
 * Builds the admin on a client that has not connected yet, so a bad `--prefix` is a usage error
 * (exit 2) whether or not Redis is up, then connects once.
 */
export async function connectAdmin(
  url: string,
  prefix: string | undefined,
  legacyLifetime?: number,
): Promise<SessionAdmin> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectionName: 'koa-epoch-session-cli',
  });
  // connect() rejects with "Connection is closed."; the event carries the cause (ECONNREFUSED, …).
  let cause: Error | undefined;
  redis.on('error', (error: Error) => {
    cause = error;
  });
  let admin: SessionAdmin;
  try {
    admin = createSessionAdmin({
      redis,
      registry: true,
      ...(prefix === undefined ? {} : { prefix }),
      // Only the marker's lifetime matters to rotate; the old key prefix is the app's business.
      ...(legacyLifetime === undefined ? {} : { legacy: { prefix: '', maxAge: legacyLifetime } }),
    });
  } catch (error) {
    await closeRedis(redis);
    throw new CliError((error as Error).message.replace(/^koa-epoch-session: /, '--'), EXIT.usage);
  }
  try {
    await redis.connect();
  } catch (error) {
    await closeRedis(redis);
    const reason = (cause ?? (error as Error)).message;
    throw new CliError(`cannot connect to Redis at ${redactUrl(url)}: ${reason}`, EXIT.unavailable, {
      cause: cause ?? error,
    });
  }
  // ioredis reports a failed SELECT only as an 'error' event and goes on in database 0, where a
  // rotate would sign out someone else's users: select again, and stop before any command if it fails.
  const db = databaseOf(url);
  if (db !== 0) {
    try {
      await redis.select(db);
    } catch (error) {
      await closeRedis(redis);
      const reason = `${(error as Error).message}; nothing was written`;
      throw new CliError(
        `cannot use database ${db} of the Redis at ${redactUrl(url)}: ${reason}`,
        EXIT.unavailable,
        {
          cause: error,
        },
      );
    }
  }
  return admin;
}

/**
 * Closes without waiting: ioredis's disconnect() arms a 2 s timer even when the socket is already
 * gone, which would keep a failed command line waiting for nothing.
 */
export async function closeRedis(client: RedisClient): Promise<void> {
  // The CLI makes its own ioredis client (connectAdmin): the store's client is always that one.
  const redis = client as Redis | Cluster;
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') return redis.disconnect();
  await redis.quit().catch(() => redis.status !== 'end' && redis.disconnect());
}

/** Maps a failure during a command to its exit code and a message an operator can act on. */
export function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof TypeError) return new CliError(error.message, EXIT.usage, { cause: error });
  const failure = asSessionError(error);
  const cluster = /\b(MOVED|ASK|CLUSTERDOWN)\b/.test(failure.message)
    ? ' (this looks like a Redis Cluster node: the CLI works with a standalone Redis or a Sentinel primary)'
    : '';
  const code = failure instanceof SessionStoreUnavailableError ? EXIT.unavailable : EXIT.failed;
  return new CliError(failure.message.replace(/^koa-epoch-session: /, '') + cluster, code, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// stats: one SCAN over the prefix, classifying keys by name, with PTTL and the current epochs
// fetched in one pipeline per batch.

export interface Stats {
  prefix: string;
  /** False when `--sample` stopped the scan early: the counts below are then estimates. */
  complete: boolean;
  /** Share of the keyspace the scan covered (1 when complete). */
  coverage: number;
  /** Keys under the prefix actually examined. */
  examined: number;
  sessions: {
    /** Signed-in sessions under their user's current epoch. */
    signedIn: number;
    /** Sessions left under an earlier epoch by a rotation: unreachable, removed by their own TTL. */
    orphaned: number;
    anonymous: number;
  };
  /** Users with an epoch key: signed in within the session lifetime. */
  users: number;
  registries: number;
  /** The registry's per-user device metadata (`…:d`). */
  deviceTables: number;
  /** Revocation reasons (`…:x` and `…:x:<handle>`). */
  reasons: number;
  /** After a re-key, where a session moved (`…:m:<handle>`), so a revoke by a listed id still reaches it. */
  forwards: number;
  /** While a legacy migration runs, when the user was last rotated (`…:l`). */
  legacyMarkers: number;
  /** Keys under the prefix that are not in this library's layout. */
  other: number;
  /** Must be 0: the library gives every key a TTL (SPEC invariant 4). */
  withoutTtl: number;
  /** Up to five keys without a TTL, to find who wrote them. */
  withoutTtlExamples: string[];
}

type KeyKind =
  | { kind: 'session'; tag: string; epoch: string }
  | { kind: 'anonymous' | 'epoch' | 'registry' | 'devices' | 'reason' | 'forward' | 'legacy' | 'other' };

const TOKEN = '[A-Za-z0-9_-]{22}';
const HANDLE = '[A-Za-z0-9_-]{16}';
const ANONYMOUS = new RegExp(`^a:${HANDLE}$`);
const USER_KEY = /^\{(~?[A-Za-z0-9_-]+)\}:(.*)$/s;
const SESSION = new RegExp(`^(${TOKEN}):${HANDLE}$`);
const SESSION_REASON = new RegExp(`^x:${HANDLE}$`);
const FORWARD = new RegExp(`^m:${HANDLE}$`);

/** The key layout of lib/core/keys.ts, read backwards. */
export function classifyKey(key: string, prefix: string): KeyKind {
  const rest = key.slice(prefix.length);
  if (ANONYMOUS.test(rest)) return { kind: 'anonymous' };
  const user = USER_KEY.exec(rest);
  if (user === null) return { kind: 'other' };
  const [, tag, suffix] = user as unknown as [string, string, string];
  if (suffix === 'e') return { kind: 'epoch' };
  if (suffix === 'r') return { kind: 'registry' };
  if (suffix === 'd') return { kind: 'devices' };
  if (suffix === 'x' || SESSION_REASON.test(suffix)) return { kind: 'reason' };
  if (FORWARD.test(suffix)) return { kind: 'forward' };
  if (suffix === 'l') return { kind: 'legacy' };
  const session = SESSION.exec(suffix);
  return session ? { kind: 'session', tag, epoch: session[1]! } : { kind: 'other' };
}

/** SCAN's MATCH is a glob: a prefix with `*?[]\` must match itself only. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The share of the keyspace a SCAN has covered once it returned `cursor`. Redis walks its hash
 * table in reverse-binary order, so the cursor's bits read backwards grow steadily from 0 to 1,
 * whatever the table size. Keys are spread over the table by hash, so the keys seen so far are
 * a fair sample of all of them: this is what lets `--sample` estimate totals.
 */
export function scanCoverage(cursor: string): number {
  let value = BigInt(cursor);
  if (value === 0n) return 1;
  let reversed = 0n;
  for (let bit = 0; bit < 64; bit++) {
    reversed = (reversed << 1n) | (value & 1n);
    value >>= 1n;
  }
  return Number(reversed) / 2 ** 64;
}

export const SCAN_COUNT = 1_000;

export interface StatsOptions {
  /** Stop once this many keys under the prefix have been examined, and estimate the totals. */
  sample?: number;
  onProgress?: (progress: { coverage: number; examined: number; done: boolean }) => void;
}

export async function collectStats(admin: SessionAdmin, options: StatsOptions = {}): Promise<Stats> {
  const redis = admin.store.settings.redis as Redis;
  const layout: KeyLayout = admin.store.keys;
  const { prefix } = layout;
  const counts = {
    signedIn: 0,
    orphaned: 0,
    anonymous: 0,
    users: 0,
    registries: 0,
    deviceTables: 0,
    reasons: 0,
    forwards: 0,
    legacyMarkers: 0,
    other: 0,
  };
  const withoutTtl: string[] = [];
  let cursor = '0';
  let examined = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', SCAN_COUNT);
    cursor = next;
    const kinds = keys.map((key) => classifyKey(key, prefix));
    const tags = [...new Set(kinds.flatMap((k) => (k.kind === 'session' ? [k.tag] : [])))];
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.pttl(key);
    for (const tag of tags) pipeline.get(layout.epoch(tag));
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0];
    const results = replies.map(([, value]) => value);
    const epochs = new Map(
      tags.map((tag, i) => [tag, String(results[keys.length + i] ?? '').slice(0, RANDOM_LENGTH)]),
    );
    kinds.forEach((k, i) => {
      if (results[i] === -1) withoutTtl.push(keys[i]!);
      if (k.kind === 'session') counts[epochs.get(k.tag) === k.epoch ? 'signedIn' : 'orphaned'] += 1;
      else if (k.kind === 'epoch') counts.users += 1;
      else if (k.kind === 'registry') counts.registries += 1;
      else if (k.kind === 'devices') counts.deviceTables += 1;
      else if (k.kind === 'reason') counts.reasons += 1;
      else if (k.kind === 'forward') counts.forwards += 1;
      else if (k.kind === 'legacy') counts.legacyMarkers += 1;
      else counts[k.kind] += 1;
    });
    examined += keys.length;
    const done = cursor === '0' || (options.sample !== undefined && examined >= options.sample);
    options.onProgress?.({ coverage: scanCoverage(cursor), examined, done });
    if (done) break;
  } while (cursor !== '0');
  const coverage = scanCoverage(cursor);
  const estimate = (n: number) => (coverage === 1 ? n : Math.round(n / coverage));
  return {
    prefix,
    complete: coverage === 1,
    coverage,
    examined,
    sessions: {
      signedIn: estimate(counts.signedIn),
      orphaned: estimate(counts.orphaned),
      anonymous: estimate(counts.anonymous),
    },
    users: estimate(counts.users),
    registries: estimate(counts.registries),
    deviceTables: estimate(counts.deviceTables),
    reasons: estimate(counts.reasons),
    forwards: estimate(counts.forwards),
    legacyMarkers: estimate(counts.legacyMarkers),
    other: estimate(counts.other),
    withoutTtl: estimate(withoutTtl.length),
    withoutTtlExamples: withoutTtl.slice(0, 5),
  };
}
