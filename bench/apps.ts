// The Koa 3 apps under test: the same routes over each session variant, for one benchmark process.
import { Redis } from 'ioredis';
import Koa, { type Context, type Middleware } from 'koa';
import redisStore from 'koa-redis';
import koaSession, { type CreateSessionOptions } from 'koa-session';
import { createClient } from 'redis';
import type { EpochStoreOptions } from '../lib/index.js';
import { library } from './library.js';

const { aesGcmCodec, createSessions } = await library<typeof import('../lib/index.js')>('index.js');

import { APP_KEYS, benchUser, COOKIE_OPTIONS, SESSION_DATA } from './fixtures.js';
import { MinimalStore } from './minimal-store.js';

/** A fixed 32-byte key for the encrypted variant: a benchmark protects nothing. */
const BENCH_KEY = Buffer.alloc(32, 7);

export type StoreKind = 'none' | 'cookie' | 'koa-redis' | 'minimal' | 'epoch';

export interface VariantSpec {
  store: StoreKind;
  /** Redis for the stores that need one. */
  redisUrl?: string;
  /** This store: the device registry. */
  registry?: boolean;
  /** This store: the concurrent-session limit (needs the registry). */
  maxSessions?: number;
  /** This store: encryption at rest (issue 15), with a fixed bench key. */
  codec?: 'aes-gcm';
  /** This store: the Redis client. Default ioredis 6; node-redis is what connect-redis users have (issue 14). */
  client?: 'node-redis';
  /**
   * ioredis 6's protocol, for this store and the minimal one. Default 2, as docs/operations.md
   * advises: ioredis 6's RESP3 decoder costs a few µs more per reply than its RESP2 parser, and
   * RESP3 brings a session store nothing. 3 is ioredis 6's own default, measured beside it.
   */
  protocol?: 2 | 3;
  /** koa-session's rolling: save (touch) the session on every response. */
  rolling?: boolean;
  /** POST /login without ?user= signs in bench users round-robin over this many ids. */
  users?: number;
}

export interface BenchApp {
  app: Koa;
  /**
   * Redis commands this app's clients have sent so far. Not round trips: this store sends a
   * write's SET and PEXPIRE together, two commands in one round trip.
   */
  commands: () => number;
  close: () => Promise<void>;
}

/** How a variant signs a user in and says who the request is. */
interface SessionDriver {
  middleware?: Middleware;
  login(ctx: Context, userId: string): Promise<void>;
  user(ctx: Context): unknown;
}

/**
 * Counts the commands a client sends. ioredis 4 (inside koa-redis), ioredis 6 and node-redis (as
 * this store's driver calls it) send every command, EVALSHA and its NOSCRIPT fallback included,
 * through the instance's `sendCommand`.
 */
function countCommands(client: object): () => number {
  const target = client as { sendCommand: (...args: unknown[]) => unknown };
  const original = target.sendCommand;
  let count = 0;
  target.sendCommand = function (this: unknown, ...args: unknown[]) {
    count += 1;
    return original.apply(this, args);
  };
  return () => count;
}

function redisOptions(url: string | undefined): { host: string; port: number } {
  if (url === undefined) throw new Error('bench: this variant needs a redisUrl');
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
}

/** koa-session over a store that knows nothing of users: the app keeps the user id inside the data. */
function classicDriver(app: Koa, rolling: boolean, store?: object): SessionDriver {
  // koa-session types its store with zod function schemas; any object with get/set/destroy works.
  const options = { ...COOKIE_OPTIONS, rolling, ...(store ? { store } : {}) } as CreateSessionOptions;
  return {
    middleware: koaSession(options, app) as unknown as Middleware,
    async login(ctx, userId) {
      // Fixation-safe login for a classic store: a new id, then the user and the data.
      await ctx.session!.regenerate();
      Object.assign(ctx.session!, SESSION_DATA, { uid: userId });
    },
    user: (ctx) => ctx.session?.uid,
  };
}

/** This store, over either client. */
function epochDriver(
  app: Koa,
  spec: VariantSpec,
  rolling: boolean,
  redis: EpochStoreOptions['redis'],
): SessionDriver {
  const sessions = createSessions(app, {
    ...COOKIE_OPTIONS,
    redis,
    rolling,
    registry: spec.registry ?? false,
    ...(spec.maxSessions === undefined ? {} : { maxSessions: spec.maxSessions }),
    ...(spec.codec === 'aes-gcm' ? { codec: aesGcmCodec({ keys: [BENCH_KEY] }) } : {}),
  });
  return {
    middleware: sessions.middleware,
    async login(ctx, userId) {
      // Anonymous data (the cart) is carried over by login.
      Object.assign(ctx.session!, SESSION_DATA);
      await sessions.login(ctx, userId);
    },
    user: (ctx) => sessions.userId(ctx),
  };
}

export function buildApp(spec: VariantSpec): BenchApp {
  const app = new Koa();
  app.keys = APP_KEYS;
  app.silent = true;
  let driver: SessionDriver;
  let commands: () => number = () => 0;
  let close: () => Promise<void> = async () => {};
  const rolling = spec.rolling ?? false;

  if (spec.store === 'none') {
    driver = { login: async () => {}, user: () => 'none' };
  } else if (spec.store === 'cookie') {
    driver = classicDriver(app, rolling);
  } else if (spec.store === 'koa-redis') {
    // koa-redis 4 creates its own ioredis 4 client, as applications using it do.
    const store = redisStore({ ...redisOptions(spec.redisUrl), maxRetriesPerRequest: 1 });
    commands = countCommands(store.client);
    driver = classicDriver(app, rolling, store);
    close = () => store.quit();
  } else if (spec.client === 'node-redis') {
    const { host, port } = redisOptions(spec.redisUrl);
    const client = createClient({ socket: { host, port } });
    // Commands sent before the connection is up wait in node-redis's offline queue.
    void client.connect();
    commands = countCommands(client);
    close = async () => {
      await client.close();
    };
    driver = epochDriver(app, spec, rolling, client);
  } else {
    const protocol = spec.protocol ?? 2;
    const redis = new Redis({ ...redisOptions(spec.redisUrl), maxRetriesPerRequest: 1, protocol });
    commands = countCommands(redis);
    close = async () => {
      await redis.quit();
    };
    if (spec.store === 'minimal') {
      driver = classicDriver(app, rolling, new MinimalStore(redis));
    } else {
      driver = epochDriver(app, spec, rolling, redis);
    }
  }
  let next = 0;
  const users = spec.users ?? 1000;
  if (driver.middleware) app.use(driver.middleware);
  app.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/read') {
      ctx.body = { user: driver.user(ctx) ?? null };
    } else if (ctx.method === 'POST' && ctx.path === '/change') {
      const session = ctx.session as Record<string, unknown> | undefined;
      if (session) session.visits = Number(session.visits ?? 0) + 1;
      ctx.body = { user: driver.user(ctx) ?? null };
    } else if (ctx.method === 'POST' && ctx.path === '/cart') {
      // An anonymous visitor's first request that stores data: the session is created here.
      Object.assign(ctx.session!, SESSION_DATA);
      ctx.body = { cart: SESSION_DATA.cart.length };
    } else if (ctx.method === 'GET' && ctx.path === '/cart') {
      // The anonymous read: the data must come back, or the request lost its session.
      const cart = (ctx.session as { cart?: unknown[] } | undefined)?.cart;
      ctx.body = { cart: Array.isArray(cart) ? cart.length : null };
    } else if (ctx.method === 'POST' && ctx.path === '/login') {
      const requested = ctx.query.user;
      const userId = typeof requested === 'string' ? requested : benchUser(next++ % users);
      await driver.login(ctx, userId);
      ctx.body = { user: driver.user(ctx) ?? null };
    } else {
      ctx.status = 404;
    }
  });
  return { app, commands, close };
}
