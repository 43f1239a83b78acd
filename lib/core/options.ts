// Options: the defaults, and the start-up checks that name the option to change.
import { type DataCodec, dataCodec, type SessionCodec } from './codec.js';
import type { RedisClient, RedisDriver } from './driver.js';
import { ioredisDriver, ioredisOption, isIoredis } from './ioredis-driver.js';
import { nodeRedisDriver, nodeRedisKind } from './node-redis-driver.js';

export type SessionLimitPolicy = 'evict-oldest' | 'reject';

/** What `onLogin` receives: enough to send a "new sign-in from …" notice. */
export interface LoginEvent {
  userId: string;
  /** The new session's public handle, as `list()` returns it. */
  sessionId: string;
  ip: string;
  userAgent: string;
  /** The user's other live sessions (empty when the registry is off). */
  otherSessions: import('./registry.js').SessionInfo[];
  /** Sessions ended to make room under `maxSessions`. */
  evicted: string[];
}

export interface EpochStoreOptions {
  /**
   * The Redis client. Required. An ioredis `Redis` (standalone or Sentinel) or `Cluster`, or a
   * node-redis (v5 or later) client from `createClient()` or `createCluster()`, connected by the app.
   */
  redis: RedisClient;
  /** Prefix of every key. Default `'sess:'`. Must not contain `{` or `}` (Cluster hash tags). */
  prefix?: string;
  /** Cookie and store lifetime in ms, or `'session'` for a browser-session cookie. Default one day. */
  maxAge?: number | 'session';
  /** Store TTL of a browser-session cookie (`maxAge: 'session'`), in ms. Default one day. */
  browserSessionTtl?: number;
  /** Keep a per-user device registry, for `list`, `revoke` by handle and `maxSessions`. Default `false`. */
  registry?: boolean;
  /** With the registry: refresh "last seen" at most this often, in ms. Default one minute. */
  lastSeenInterval?: number;
  /** End every session this long after login, however often it is used, in ms. Default: no cap. */
  absoluteMaxAge?: number;
  /**
   * Replication is asynchronous: a master that dies right after a revocation can hand its place to
   * a replica that never saw it. With this, `rotate`, `revoke`, `logout` and `logoutOthers` send
   * `WAIT replicas timeout` after their script and fail with SessionStoreUnavailableError when fewer
   * replicas acknowledged in time, so the caller can retry. Default: no wait.
   */
  waitForReplicas?: { replicas: number; timeout: number };
  /** Adopt sessions written by koa-redis or any `sid -> JSON` store, so users stay signed in. */
  legacy?: LegacyOptions;
  /**
   * How the session data is stored: a custom serializer, or `aesGcmCodec({ keys })` to encrypt it
   * at rest. The expiry and the registry's device header stay outside it. Default: JSON.
   */
  codec?: SessionCodec;
}

export interface LegacyOptions {
  /** Prefix of the old keys: koa-redis adds none (''), koa-session's `prefix` option or connect-redis ('sess:') may. */
  prefix: string;
  /**
   * The longest a legacy session could live (the old app's maxAge), in ms. `rotate` revokes the
   * user's legacy sessions that have not moved yet with a marker that lives this long. Default:
   * `maxAge` (or `browserSessionTtl` when that is 'session').
   */
  maxAge?: number;
  /** The signed-in user of a legacy session, from its data; `undefined` makes it an anonymous session. */
  userId?: (data: Record<string, unknown>) => string | undefined;
  /** The client holding the old keys (ioredis or node-redis, as `redis`). Default: `redis`. */
  redis?: RedisClient;
}

/**
 * The session cookie's attributes, checked at start-up by both adapters: Koa's options use these
 * names; the Express adapter maps express-session's onto them.
 */
export interface CookieChoices {
  /** Cookie name. Default `'sid'`: neutral, it does not advertise the framework. */
  key?: string;
  /** koa-session's rolling: refresh the cookie and TTL on every response. Default `false`. */
  rolling?: boolean;
  /** koa-session's renew: refresh when less than half the lifetime is left. Default `false`. */
  renew?: boolean;
  /** Default `true`. */
  httpOnly?: boolean;
  /** Sign the cookie with `app.keys`. Default `true`: start-up fails when `app.keys` is missing. */
  signed?: boolean;
  /** Default `'lax'`. */
  sameSite?: 'lax' | 'strict' | 'none';
  /** Default: secure when the request is HTTPS (with `app.proxy`, as the proxy reports it). */
  secure?: boolean;
  domain?: string;
  path?: string;
}

/** The concurrent-session limit, which every adapter's login applies. */
export interface SessionLimitOptions {
  /** With the registry: the most sessions one user may hold at once. Default: no limit. */
  maxSessions?: number;
  /** What `login` does at the limit. Default `'evict-oldest'`. */
  sessionLimitPolicy?: SessionLimitPolicy;
  /**
   * Name of a readable (not HttpOnly, not signed) cookie that mirrors the session's expiry time in
   * ms since the epoch, so page scripts can tell whether the session is alive. Default: none.
   */
  companionCookie?: string;
}

export const DEFAULTS = Object.freeze({
  prefix: 'sess:',
  key: 'sid',
  maxAge: 86_400_000 as number | 'session',
  browserSessionTtl: 86_400_000,
  registry: false,
  lastSeenInterval: 60_000,
  sessionLimitPolicy: 'evict-oldest' as SessionLimitPolicy,
  sameSite: 'lax' as const,
});

export interface StoreSettings {
  redis: RedisClient;
  driver: RedisDriver;
  prefix: string;
  maxAge: number | 'session';
  browserSessionTtl: number;
  registry: boolean;
  lastSeenInterval: number;
  absoluteMaxAge: number | undefined;
  waitForReplicas: { replicas: number; timeout: number } | undefined;
  legacy:
    | (Required<Pick<LegacyOptions, 'prefix' | 'redis' | 'maxAge'>> &
        Pick<LegacyOptions, 'userId'> & { driver: RedisDriver })
    | undefined;
  /** `undefined`: JSON, as stored before codecs existed (and just as fast). */
  codec: DataCodec | undefined;
}

function fail(message: string): never {
  throw new TypeError(`koa-epoch-session: ${message}`);
}

/**
 * The longest duration any option may set, 100 years: far beyond a session, and far below what
 * Redis accepts for PX, so no setting can make every write fail at run time.
 */
export const MAX_DURATION = 100 * 365.25 * 24 * 3600_000;

/** A duration in ms that Redis can take as a TTL: positive and at most MAX_DURATION. */
export function isDuration(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && value <= MAX_DURATION;
}

function positiveMs(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  // Options must be whole: a fraction would reach PX unrounded, and Redis refuses it.
  if (!isDuration(value) || !Number.isInteger(value)) {
    fail(`${name} must be a whole number of milliseconds, from 1 to ${MAX_DURATION} (100 years)`);
  }
  return value;
}

/**
 * The driver for the client the app passed, told apart by its API (ioredis or node-redis,
 * standalone or cluster), refusing what the store cannot use with a message that names the
 * option: ioredis reply types changed by `stringNumbers`, hash tags in `keyPrefix`, node-redis
 * Sentinel and pool clients. node-redis type mappings need no check: the driver asks for the
 * default reply types with every command.
 */
function driverFor(client: unknown, name: string): RedisDriver {
  if (isIoredis(client)) {
    if (ioredisOption(client, 'stringNumbers') === true) {
      fail(
        `${name} has stringNumbers: true, which turns the store's numeric replies into strings; ` +
          `give the store its own client without it (for example ${name}.duplicate({ stringNumbers: false }))`,
      );
    }
    const keyPrefix = ioredisOption(client, 'keyPrefix');
    if (typeof keyPrefix === 'string' && /[{}]/.test(keyPrefix)) {
      fail(
        `the ioredis keyPrefix of ${name} must not contain "{" or "}" (they would break the Cluster hash tag)`,
      );
    }
    return ioredisDriver(client);
  }
  const kind = nodeRedisKind(client);
  if (typeof kind === 'object') {
    fail(`${name} is ${kind.unsupported}`);
  }
  if (kind === undefined) {
    fail(
      `${name} must be an ioredis Redis or Cluster client, or a node-redis (v5 or later) client ` +
        'from createClient() or createCluster()',
    );
  }
  return nodeRedisDriver(client, kind);
}

export function storeSettings(options: EpochStoreOptions): StoreSettings {
  if (options === null || typeof options !== 'object')
    fail('options must be an object with at least { redis }');
  const driver = driverFor(options.redis, 'redis');
  const prefix = options.prefix ?? DEFAULTS.prefix;
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    fail('prefix must be a string without "{" or "}" (they would break the Cluster hash tag)');
  }
  const maxAge = options.maxAge ?? DEFAULTS.maxAge;
  if (maxAge !== 'session') positiveMs('maxAge', maxAge);
  if (maxAge === 'session' && options.maxAge !== 'session') fail('maxAge must be a number or "session"');
  if (options.registry !== undefined && typeof options.registry !== 'boolean')
    fail('registry must be a boolean');
  return {
    redis: options.redis,
    driver,
    prefix,
    maxAge,
    browserSessionTtl:
      positiveMs('browserSessionTtl', options.browserSessionTtl) ?? DEFAULTS.browserSessionTtl,
    registry: options.registry ?? DEFAULTS.registry,
    lastSeenInterval: positiveMs('lastSeenInterval', options.lastSeenInterval) ?? DEFAULTS.lastSeenInterval,
    absoluteMaxAge: positiveMs('absoluteMaxAge', options.absoluteMaxAge),
    waitForReplicas: replicaSettings(options.waitForReplicas),
    legacy: legacySettings(options.legacy, options.redis, driver, prefix, maxAge, options.browserSessionTtl),
    codec: dataCodec(options.codec),
  };
}

function replicaSettings(wait: EpochStoreOptions['waitForReplicas']) {
  if (wait === undefined) return undefined;
  const positiveInteger = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  // WAIT with a timeout of 0 blocks forever: a stopped replica would hang every revocation.
  if (
    wait === null ||
    typeof wait !== 'object' ||
    !positiveInteger(wait.replicas) ||
    !positiveInteger(wait.timeout)
  ) {
    fail('waitForReplicas must be { replicas, timeout } with a positive replica count and timeout in ms');
  }
  return { replicas: wait.replicas, timeout: wait.timeout };
}

function legacySettings(
  legacy: LegacyOptions | undefined,
  redis: RedisClient,
  driver: RedisDriver,
  prefix: string,
  maxAge: number | 'session',
  browserSessionTtl: number | undefined,
) {
  if (legacy === undefined) return undefined;
  if (legacy === null || typeof legacy !== 'object' || typeof legacy.prefix !== 'string') {
    fail("legacy must be { prefix, userId?, redis? } with prefix the old key prefix ('' for koa-redis)");
  }
  if (legacy.prefix !== '' && (legacy.prefix.startsWith(prefix) || prefix.startsWith(legacy.prefix))) {
    fail('legacy.prefix must differ from prefix: old and new keys would be confused');
  }
  if (legacy.userId !== undefined && typeof legacy.userId !== 'function')
    fail('legacy.userId must be a function');
  const legacyDriver =
    legacy.redis === undefined || legacy.redis === redis ? driver : driverFor(legacy.redis, 'legacy.redis');
  const fallback = maxAge === 'session' ? (browserSessionTtl ?? DEFAULTS.browserSessionTtl) : maxAge;
  return {
    prefix: legacy.prefix,
    userId: legacy.userId,
    redis: legacy.redis ?? redis,
    driver: legacyDriver,
    maxAge: positiveMs('legacy.maxAge', legacy.maxAge) ?? fallback,
  };
}

export interface SessionSettings<Hook> {
  maxSessions: number;
  sessionLimitPolicy: SessionLimitPolicy;
  onLogin: Hook | undefined;
}

/** The limit and the login hook (each adapter passes its own hook type). */
export function sessionSettings<Hook>(
  options: SessionLimitOptions & { onLogin?: Hook },
  registry: boolean,
): SessionSettings<Hook> {
  const { maxSessions, sessionLimitPolicy = DEFAULTS.sessionLimitPolicy, onLogin } = options;
  if (maxSessions !== undefined) {
    if (!Number.isInteger(maxSessions) || maxSessions < 1) fail('maxSessions must be a positive integer');
    if (!registry) fail('maxSessions needs the device registry: set registry: true');
  }
  if (sessionLimitPolicy !== 'evict-oldest' && sessionLimitPolicy !== 'reject') {
    fail('sessionLimitPolicy must be "evict-oldest" or "reject"');
  }
  if (onLogin !== undefined && typeof onLogin !== 'function') fail('onLogin must be a function');
  return { maxSessions: maxSessions ?? 0, sessionLimitPolicy, onLogin };
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 section 4.1.1, as the `cookies` package checks them when a cookie is set. */
const COOKIE_DOMAIN = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const COOKIE_PATH = /^[ -:=-~]*$/;

/** koa-session's options: our secure defaults under whatever the caller set. */
export function cookieOptions(options: CookieChoices, maxAge: number | 'session') {
  const key = options.key ?? DEFAULTS.key;
  if (typeof key !== 'string' || !COOKIE_NAME.test(key)) {
    fail('key must be a valid cookie name (RFC 6265 token characters)');
  }
  const sameSite = options.sameSite ?? DEFAULTS.sameSite;
  if (!['lax', 'strict', 'none'].includes(sameSite)) fail('sameSite must be "lax", "strict" or "none"');
  for (const name of ['rolling', 'renew', 'httpOnly', 'signed', 'secure'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') fail(`${name} must be a boolean`);
  }
  // Checked here, not when the first response sets the cookie: by then the session is written.
  if (
    options.domain !== undefined &&
    (typeof options.domain !== 'string' || !COOKIE_DOMAIN.test(options.domain))
  ) {
    fail('domain must be a host name such as "example.com" or ".example.com" (RFC 6265)');
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || !COOKIE_PATH.test(options.path))) {
    fail('path must be a URL path without ";" or control characters, such as "/" or "/app"');
  }
  if (sameSite === 'none' && options.secure !== true) {
    fail('sameSite "none" needs secure: true (browsers drop SameSite=None cookies without Secure)');
  }
  return {
    key,
    maxAge,
    rolling: options.rolling ?? false,
    renew: options.renew ?? false,
    httpOnly: options.httpOnly ?? true,
    signed: options.signed ?? true,
    sameSite,
    ...(options.secure === undefined ? {} : { secure: options.secure }),
    ...(options.domain === undefined ? {} : { domain: options.domain }),
    ...(options.path === undefined ? {} : { path: options.path }),
  };
}

export function companionOptions(options: SessionLimitOptions, cookie: ReturnType<typeof cookieOptions>) {
  const name = options.companionCookie;
  if (name === undefined) return undefined;
  if (
    typeof name !== 'string' ||
    !COOKIE_NAME.test(name) ||
    name === cookie.key ||
    name === `${cookie.key}.sig`
  ) {
    fail("companionCookie must be a valid cookie name other than the session cookie's");
  }
  const {
    key: sessionKey,
    sameSite,
    secure,
    domain,
    path,
  } = cookie as typeof cookie & {
    secure?: boolean;
    domain?: string;
    path?: string;
  };
  return { name, sessionKey, sameSite, secure, domain, path };
}
