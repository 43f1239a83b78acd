// Issue 11, case 6: stringNumbers is refused at start-up, and no Redis error carries session data, ids or cookies.
import { inspect } from 'node:util';
import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import Koa from 'koa';
import supertest from 'supertest';
import { createSessions, type EpochSessionOptions } from '../../lib/index.js';
import { APP_KEYS, cookieValue } from '../support/app.js';
import { testRedisUrl } from '../support/hooks.js';
import { startRedisServer } from '../support/redis-server.js';
import { captured } from '../support/replay.js';

const SECRET = 'leak-probe-secret-5b1e';
const NOTE = 'leak-probe-note-9c2f';

/**
 * An app on a private Redis that records everything an error could travel through: what the app's
 * error middleware catches, what Koa's 'error' event gets, and every event the sessions emit
 * (with every argument, 'redis-error' included).
 */
async function leakApp(options: Partial<EpochSessionOptions> = {}) {
  const server = await startRedisServer();
  const redis = new Redis(server.url, {
    maxRetriesPerRequest: 1,
    commandTimeout: 300,
    retryStrategy: () => 50,
  });
  redis.on('error', () => {}); // reconnect noise; what matters is what reaches the app
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  const app = new Koa();
  app.keys = APP_KEYS;
  app.silent = true;
  const sessions = createSessions(app, { redis, ...options });
  const seen: { where: string; value: unknown }[] = [];
  let recording = false;
  const emit = sessions.events.emit.bind(sessions.events);
  sessions.events.emit = (event: string | symbol, ...args: unknown[]) => {
    if (recording || event === 'redis-error') seen.push({ where: `event ${String(event)}`, value: args });
    return emit(event, ...args);
  };
  sessions.events.on('redis-error', () => {});
  app.on('error', (error) => seen.push({ where: "app 'error' event", value: error }));
  app.use(async (_ctx, next) => {
    try {
      await next();
    } catch (error) {
      seen.push({ where: 'thrown to the app', value: error });
      throw error;
    }
  });
  app.use(sessions.middleware);
  app.use(async (ctx) => {
    if (ctx.path === '/login') await sessions.login(ctx, String(ctx.query.user));
    if (ctx.path === '/set') for (const [k, v] of Object.entries(ctx.query)) ctx.session![k] = v;
    ctx.body = { userId: sessions.userId(ctx) ?? null, data: ctx.session?.toJSON() ?? null };
  });
  const http = () => supertest(app.callback());
  return {
    server,
    redis,
    admin,
    http,
    seen,
    /** From here on, every event the sessions emit is recorded, not only 'redis-error'. */
    record: () => {
      recording = true;
    },
    close: async () => {
      redis.disconnect();
      admin.disconnect();
      await server.stop();
    },
  };
}

/** Everything recorded, as a reader of logs would see it: util.inspect to any depth, causes and command args included. */
function rendered(value: unknown): string {
  const parts = [
    inspect(value, {
      depth: Number.POSITIVE_INFINITY,
      showHidden: true,
      maxArrayLength: Number.POSITIVE_INFINITY,
      maxStringLength: Number.POSITIVE_INFINITY,
      breakLength: Number.POSITIVE_INFINITY,
    }),
  ];
  // Walk the cause chain and any ioredis command by hand too, in case a custom inspect hides them.
  let error = value as { message?: unknown; stack?: unknown; cause?: unknown; command?: unknown } | undefined;
  for (let i = 0; i < 10 && error && typeof error === 'object'; i++) {
    parts.push(String(error.message ?? ''), String(error.stack ?? ''), JSON.stringify(error.command ?? null));
    error = error.cause as typeof error;
  }
  return parts.join('\n');
}

function assertNoLeak(
  seen: { where: string; value: unknown }[],
  body: string,
  secrets: Record<string, string>,
): void {
  for (const [what, secret] of Object.entries(secrets)) {
    expect(body, `the response body carries the ${what}`).to.not.include(secret);
    for (const { where, value } of seen) {
      expect(rendered(value), `the ${what} appears in what reached ${where}`).to.not.include(secret);
    }
  }
}

/** Waits until Redis refuses writes for want of memory: maxmemory 1 byte, no eviction. */
async function exhaustMemory(admin: Redis): Promise<void> {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  await admin.config('SET', 'maxmemory', '1');
  const refused = await admin.set('oom-probe', 'x').then(
    () => false,
    (error: Error) => /OOM/.test(error.message),
  );
  expect(refused, 'Redis refuses writes (OOM)').to.equal(true);
}

describe('hardening (issue 11): what Redis errors carry (invariant 8)', function () {
  this.timeout(20_000);

  it('invariant 8: an ioredis Redis client with stringNumbers: true is refused at start-up with a TypeError naming stringNumbers', () => {
    const redis = new Redis(testRedisUrl(), { stringNumbers: true, lazyConnect: true });
    try {
      const app = new Koa();
      app.keys = APP_KEYS;
      expect(() => createSessions(app, { redis })).to.throw(TypeError, /stringNumbers/);
    } finally {
      redis.disconnect();
    }
  });

  it('invariant 8: an ioredis Cluster client with redisOptions.stringNumbers is refused at start-up with a TypeError naming stringNumbers', () => {
    const port = Number(new URL(testRedisUrl()).port);
    const cluster = new Cluster([{ host: '127.0.0.1', port }], {
      lazyConnect: true,
      redisOptions: { stringNumbers: true },
    });
    try {
      const app = new Koa();
      app.keys = APP_KEYS;
      expect(() => createSessions(app, { redis: cluster })).to.throw(TypeError, /stringNumbers/);
    } finally {
      cluster.disconnect();
    }
  });

  describe('Redis refuses a command while a signed-in session is read or written', () => {
    let h: Awaited<ReturnType<typeof leakApp>> | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    /** Signs `user` in with SECRET in the session; returns the cookie and its value. */
    async function signIn(user: string) {
      const login = await h!
        .http()
        .post(`/login?user=${encodeURIComponent(user)}`)
        .expect(200);
      const cookie = captured(login)!;
      const set = await h!.http().post(`/set?secret=${SECRET}`).set('Cookie', cookie).expect(200);
      expect(set.body).to.deep.include({ userId: user, data: { secret: SECRET } });
      return { cookie: captured(set) ?? cookie, value: (cookieValue(set) ?? cookieValue(login))! };
    }

    async function failing(request: supertest.Test) {
      h!.record();
      const before = h!.seen.length;
      const res = await request;
      expect(res.status, 'the request failed with a 503-class error').to.equal(503);
      expect(h!.seen.length, 'an error reached the app or a redis-error event').to.be.greaterThan(before);
      expect(
        h!.seen.some((s) => s.where === 'event redis-error'),
        "a 'redis-error' event was emitted",
      ).to.equal(true);
      return res;
    }

    it('invariant 8: a read refused by Redis (MASTERDOWN) leaks no session data, user id or cookie value into errors or events', async () => {
      h = await leakApp();
      const user = 'leak-probe-reader-3a7d';
      const { cookie, value } = await signIn(user);
      await h.admin.config('SET', 'replica-serve-stale-data', 'no');
      await h.admin.replicaof('127.0.0.1', 1); // a master that never answers: reads get MASTERDOWN
      const res = await failing(h.http().get('/whoami').set('Cookie', cookie));
      assertNoLeak(h.seen, res.text, { 'session data': SECRET, 'user id': user, 'cookie value': value });
    });

    it('invariant 8: a read that times out (Redis paused) leaks no session data, user id or cookie value into errors or events', async () => {
      h = await leakApp();
      const user = 'leak-probe-paused-4e8a';
      const { cookie, value } = await signIn(user);
      h.server.signal('SIGSTOP');
      try {
        const res = await failing(h.http().get('/whoami').set('Cookie', cookie));
        assertNoLeak(h.seen, res.text, { 'session data': SECRET, 'user id': user, 'cookie value': value });
      } finally {
        h.server.signal('SIGCONT');
      }
    });

    it('invariant 8: a write of session data refused by Redis (OOM) leaks no session data, user id or cookie value into errors or events', async () => {
      h = await leakApp();
      const user = 'leak-probe-writer-6f0b';
      const { cookie, value } = await signIn(user);
      await exhaustMemory(h.admin);
      const res = await failing(h.http().post(`/set?note=${NOTE}`).set('Cookie', cookie));
      assertNoLeak(h.seen, res.text, {
        'session data': SECRET,
        'new session data': NOTE,
        'user id': user,
        'cookie value': value,
      });
    });

    it('invariant 8: a login refused by Redis (OOM) leaks no session data, user id or cookie value into errors or events', async () => {
      h = await leakApp({ registry: true });
      // Longer than 60 bytes: such an id is not carried by the cookie, only by the store.
      const user = `leak-probe-long-id-${'z'.repeat(60)}`;
      const anonymous = await h.http().post(`/set?secret=${SECRET}`).expect(200);
      const cookie = captured(anonymous)!;
      const value = cookieValue(anonymous)!;
      await exhaustMemory(h.admin);
      const res = await failing(h.http().post(`/login?user=${user}`).set('Cookie', cookie));
      assertNoLeak(h.seen, res.text, { 'session data': SECRET, 'user id': user, 'cookie value': value });
    });
  });
});
