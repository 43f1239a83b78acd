// The code samples of docs/api.md, security.md, operations.md and migration.md, run; and a check that the docs still quote them.

import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type EventEmitter, once } from 'node:events';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import Koa, { type Context, type Middleware } from 'koa';
import koaRedis from 'koa-redis';
import koaSession from 'koa-session';
import supertest from 'supertest';
import {
  createSessionAdmin,
  createSessions,
  SessionStoreUnavailableError,
  type Sessions,
} from '../../lib/index.js';
import { closeClients, newRedis } from '../support/app.js';
import { testRedisUrl } from '../support/hooks.js';
import { freePort, type RedisServer, startRedisServer, waitForPing } from '../support/redis-server.js';
import { RECOMMENDED_REDIS_OPTIONS } from '../support/reliability-kit.js';

const root = new URL('../../', import.meta.url);
const SECRET = 'docs-sample-secret';

// ---------------------------------------------------------------------------------------------
// docs/api.md: a complete app

interface AppDeps {
  redis: Redis | Cluster;
  secret: string;
  /** Your own credential check: the user id, or undefined. */
  authenticate: (ctx: Context) => Promise<string | undefined>;
}

function buildApp({ redis, secret, authenticate }: AppDeps) {
  const app = new Koa();
  app.keys = [secret];
  const sessions = createSessions(app, { redis, registry: true });
  app.use(sessions.middleware);

  const router = new Router();
  router.post('/login', async (ctx) => {
    const userId = await authenticate(ctx);
    if (userId === undefined) return ctx.throw(401, 'wrong user name or password');
    await sessions.login(ctx, userId);
    ctx.body = { userId };
  });
  router.get('/me', (ctx) => {
    ctx.body = {
      userId: sessions.userId(ctx) ?? null,
      revoked: sessions.revokedReason(ctx)?.reason ?? null,
      expiresAt: sessions.expiresAt(ctx) ?? null,
    };
  });
  router.post('/logout', async (ctx) => {
    await sessions.logout(ctx);
    ctx.status = 204;
  });
  router.get('/devices', async (ctx) => {
    const userId = sessions.userId(ctx) ?? ctx.throw(401);
    ctx.body = await sessions.list(userId, ctx);
  });
  router.delete('/devices/:id', async (ctx) => {
    const userId = sessions.userId(ctx) ?? ctx.throw(401);
    ctx.body = { revoked: await sessions.revoke(userId, ctx.params.id!) };
  });
  router.post('/password', async (ctx) => {
    if (sessions.userId(ctx) === undefined) return ctx.throw(401);
    // ...check the old password and store the new hash, then sign out every other device:
    await sessions.logoutOthers(ctx);
    ctx.status = 204;
  });
  app.use(router.routes());
  return { app, sessions };
}

// docs/api.md and docs/security.md: revocation from a worker, a support tool or a password-reset link

async function onPasswordReset(redis: Redis, userId: string) {
  const admin = createSessionAdmin({ redis, registry: true });
  await admin.rotate(userId, { reason: 'password-reset' });
}

// docs/api.md: Redis down is a 503 the app can answer

const answerStoreOutages: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (error) {
    if (!(error instanceof SessionStoreUnavailableError)) throw error;
    ctx.status = 503;
    ctx.set('Retry-After', '5');
    ctx.body = { error: 'sign-in is unavailable for a moment; please retry' };
  }
};

// docs/operations.md: events to metrics

/** The part of a prom-client Counter (or any metrics client) that this needs. */
interface Counter {
  inc(labels: Record<string, string>): void;
}

function countSessionEvents(events: EventEmitter, counter: Counter, redisErrors: Counter) {
  events.on('login', () => counter.inc({ event: 'login' }));
  events.on('revoked', (e: { scope: string; reason: string }) =>
    counter.inc({ event: 'revoked', scope: e.scope, reason: e.reason }),
  );
  events.on('rejected', (e: { reason: string }) => counter.inc({ event: 'rejected', reason: e.reason }));
  events.on('limit', (e: { policy: string }) => counter.inc({ event: 'limit', policy: e.policy }));
  events.on('redis-error', (error: Error) => redisErrors.inc({ error: error.name }));
}

// docs/operations.md: client settings

function sessionRedis(url: string): Redis {
  return new Redis(url, {
    protocol: 2,
    commandTimeout: 500,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
    maxLoadingRetryTime: 100,
    retryStrategy: (times) => Math.min(25 * 2 ** times, 250),
  });
}

/** With the offline queue off, commands fail until the client is ready: serve traffic after this. */
async function whenReady(client: Redis | Cluster): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready');
}

function sessionCluster(nodes: { host: string; port: number }[]): Cluster {
  return new Cluster(nodes, {
    enableOfflineQueue: false,
    clusterRetryStrategy: (times) => Math.min(25 * 2 ** times, 250),
    redisOptions: { commandTimeout: 500, connectTimeout: 1_000, maxRetriesPerRequest: 1 },
  });
}

function sessionSentinel(sentinels: { host: string; port: number }[], name: string): Redis {
  return new Redis({
    sentinels,
    name,
    role: 'master',
    commandTimeout: 500,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
    maxLoadingRetryTime: 100,
    retryStrategy: (times) => Math.min(25 * 2 ** times, 250),
    sentinelRetryStrategy: (times) => Math.min(25 * 2 ** times, 250),
    // After a failover the old primary answers READONLY: reconnect, and Sentinel names the new one.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  });
}

// docs/migration.md: from koa-session with koa-redis

function adoptingApp(redis: Redis, secret: string) {
  const app = new Koa();
  app.keys = [secret];
  const sessions = createSessions(app, {
    redis,
    key: 'koa.sess', // the cookie name koa-session used, so browsers keep sending it
    maxAge: 86_400_000, // the lifetime the old app used
    legacy: {
      prefix: '', // koa-redis stores each session under the cookie value itself
      userId: (data) => (typeof data.userId === 'string' ? data.userId : undefined),
    },
  });
  app.use(sessions.middleware);
  return { app, sessions };
}

// docs/migration.md: from express-session with connect-redis

/** express-session's cookie: "s:" + sid + "." + unpadded base64 HMAC-SHA256 of the sid (cookie-signature). */
function unsignExpressCookie(value: string, secret: string): string | undefined {
  const signed = value.startsWith('s:') ? value.slice(2) : '';
  const dot = signed.lastIndexOf('.');
  if (dot < 1) return undefined;
  const sid = signed.slice(0, dot);
  const mac = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  const expected = Buffer.from(`${sid}.${mac}`);
  const actual = Buffer.from(signed);
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? sid : undefined;
}

interface ExpressAdoption {
  /** The client connect-redis used. */
  redis: Redis;
  /** express-session's `secret`. */
  secret: string;
  /** express-session's cookie name. Default 'connect.sid'. */
  cookie?: string;
  /** connect-redis's prefix. Default 'sess:'. */
  prefix?: string;
  /** The signed-in user in the old session data, or undefined. */
  userId: (data: Record<string, unknown>) => string | undefined;
}

/** Goes after sessions.middleware: moves an express-session (connect-redis) session into this store, once. */
function adoptExpressSessions(sessions: Sessions, options: ExpressAdoption): Middleware {
  const { redis, secret, cookie = 'connect.sid', prefix = 'sess:' } = options;
  return async (ctx, next) => {
    const raw = ctx.cookies.get(cookie, { signed: false });
    if (raw !== undefined) {
      ctx.cookies.set(cookie, null); // the old cookie is done with, whatever follows
      let value = raw;
      try {
        value = decodeURIComponent(raw);
      } catch {}
      const sid = unsignExpressCookie(value, secret);
      // GETDEL reads the old session once: a copy of the old cookie cannot be replayed.
      const json = sid === undefined ? null : await redis.getdel(prefix + sid);
      const data = json === null ? undefined : parseObject(json);
      if (data !== undefined && sessions.userId(ctx) === undefined) {
        const { cookie: _expressCookie, ...fields } = data;
        Object.assign(ctx.session!, fields);
        const userId = options.userId(fields);
        if (userId !== undefined) await sessions.login(ctx, userId);
      }
    }
    await next();
  };
}

function parseObject(json: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

function cookiesOf(res: { headers: Record<string, unknown> }): string {
  return ((res.headers['set-cookie'] as string[] | undefined) ?? []).map((c) => c.split(';')[0]).join('; ');
}

describe('docs: every code sample runs', function () {
  this.timeout(20_000);
  afterEach(closeClients);

  describe('docs/api.md', () => {
    const authenticate = async (ctx: Context) => ctx.get('x-test-user') || undefined;

    it('the complete app: login, me, devices, revoke a device, password change, logout', async () => {
      const { app } = buildApp({ redis: newRedis(), secret: SECRET, authenticate });
      const laptop = supertest.agent(app.callback());
      const phone = supertest.agent(app.callback());
      await laptop.post('/login').expect(401);
      await laptop.post('/login').set('x-test-user', 'alice').set('User-Agent', 'laptop').expect(200);
      await phone.post('/login').set('x-test-user', 'alice').set('User-Agent', 'phone').expect(200);
      const me = (await laptop.get('/me').expect(200)).body;
      expect(me.userId).to.equal('alice');
      expect(Date.parse(me.expiresAt)).to.be.greaterThan(Date.now());

      const devices = (await laptop.get('/devices').expect(200)).body as { id: string; current: boolean }[];
      expect(devices).to.have.length(2);
      const other = devices.find((d) => !d.current)!;
      expect((await laptop.delete(`/devices/${other.id}`).expect(200)).body).to.deep.equal({ revoked: true });
      expect((await phone.get('/me')).body).to.include({ userId: null, revoked: 'revoked' });

      await phone.post('/login').set('x-test-user', 'alice').expect(200);
      await laptop.post('/password').expect(204);
      expect((await laptop.get('/me')).body.userId).to.equal('alice');
      expect((await phone.get('/me')).body).to.include({ userId: null, revoked: 'signed-out-elsewhere' });

      await laptop.post('/logout').expect(204);
      expect((await laptop.get('/me')).body.userId).to.equal(null);
      await laptop.get('/devices').expect(401);
    });

    it('onPasswordReset revokes every session from outside a request', async () => {
      const { app } = buildApp({ redis: newRedis(), secret: SECRET, authenticate });
      const agent = supertest.agent(app.callback());
      await agent.post('/login').set('x-test-user', 'alice').expect(200);
      await onPasswordReset(newRedis(), 'alice');
      expect((await agent.get('/me')).body).to.include({ userId: null, revoked: 'password-reset' });
    });

    it('answerStoreOutages turns an unreachable Redis into a 503 with Retry-After', async () => {
      const down = new Redis(`redis://127.0.0.1:${await freePort()}`, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        lazyConnect: true,
        retryStrategy: () => null,
      });
      down.on('error', () => {});
      const app = new Koa();
      app.keys = [SECRET];
      const sessions = createSessions(app, { redis: down });
      app.use(answerStoreOutages);
      app.use(sessions.middleware);
      app.use(async (ctx) => {
        await sessions.login(ctx, 'alice');
      });
      const res = await supertest(app.callback()).post('/').expect(503);
      expect(res.headers['retry-after']).to.equal('5');
      expect(res.body.error).to.match(/unavailable/);
      down.disconnect();
    });
  });

  describe('docs/security.md', () => {
    it('changing app.keys to a new secret alone signs everyone out; keeping the old one second does not', async () => {
      const redis = newRedis();
      const first = buildApp({ redis, secret: 'old-secret', authenticate: async () => 'alice' });
      const login = await supertest(first.app.callback()).post('/login').expect(200);
      const cookie = cookiesOf(login);

      const next = buildApp({ redis, secret: 'new-secret', authenticate: async () => 'alice' });
      const app = next.app;
      const newSecret = 'new-secret';
      const oldSecret = 'old-secret';
      // Rotate the signing key, keeping everyone signed in: new key first, old one still accepted.
      app.keys = [newSecret, oldSecret];
      expect((await supertest(app.callback()).get('/me').set('Cookie', cookie)).body.userId).to.equal(
        'alice',
      );
      // Sign everyone out: drop the old key, and every cookie issued so far fails its signature check.
      app.keys = [newSecret];
      expect((await supertest(app.callback()).get('/me').set('Cookie', cookie)).body.userId).to.equal(null);
    });

    it('a new prefix signs everyone out, and the old keys leave by their TTL', async () => {
      const redis = newRedis();
      const before = new Koa();
      before.keys = [SECRET];
      const old = createSessions(before, { redis, prefix: 'sess:' });
      before.use(old.middleware).use(async (ctx) => {
        await old.login(ctx, 'alice');
      });
      const cookie = cookiesOf(await supertest(before.callback()).post('/'));

      const app = new Koa();
      app.keys = [SECRET];
      const sessions = createSessions(app, { redis, prefix: 'sess2:' });
      app.use(sessions.middleware).use((ctx) => {
        ctx.body = { userId: sessions.userId(ctx) ?? null };
      });
      expect((await supertest(app.callback()).get('/').set('Cookie', cookie)).body.userId).to.equal(null);
      for (const key of await redis.keys('sess:*')) expect(await redis.pttl(key)).to.be.greaterThan(0);
    });
  });

  describe('docs/operations.md', () => {
    it('countSessionEvents counts login, revoked, rejected, limit and redis-error', async () => {
      const counts: string[] = [];
      const counter = { inc: (labels: Record<string, string>) => counts.push(JSON.stringify(labels)) };
      const redisErrors = { inc: (labels: Record<string, string>) => counts.push(`redis ${labels.error}`) };
      const app = new Koa();
      app.keys = [SECRET];
      const sessions = createSessions(app, { redis: newRedis(), registry: true, maxSessions: 1 });
      countSessionEvents(sessions.events, counter, redisErrors);
      app.use(sessions.middleware).use(async (ctx) => {
        if (ctx.path === '/login') await sessions.login(ctx, 'alice');
        ctx.body = { userId: sessions.userId(ctx) ?? null };
      });
      const first = supertest.agent(app.callback());
      await first.post('/login').expect(200);
      await supertest.agent(app.callback()).post('/login').expect(200); // evicts the first (maxSessions: 1)
      await first.get('/').expect(200); // the evicted cookie is presented: rejected
      await sessions.rotate('alice', { reason: 'password-changed' });
      sessions.events.emit('redis-error', new SessionStoreUnavailableError(new Error('test')));
      expect(counts).to.deep.equal([
        '{"event":"login"}',
        '{"event":"limit","policy":"evict-oldest"}',
        '{"event":"login"}',
        '{"event":"rejected","reason":"session-limit"}',
        '{"event":"revoked","scope":"all","reason":"password-changed"}',
        'redis SessionStoreUnavailableError',
      ]);
    });

    it('sessionRedis uses the options the reliability suite measures, and serves sessions', async () => {
      const redis = sessionRedis(testRedisUrl());
      try {
        await whenReady(redis);
        const { retryStrategy, ...options } = redis.options;
        const { retryStrategy: recommended, ...expected } = RECOMMENDED_REDIS_OPTIONS;
        expect(options).to.deep.include(expected);
        // RESP2: ioredis 6's RESP3 decoder costs more per reply (docs/benchmarks.md, the RESP3 rows).
        expect(options.protocol).to.equal(2);
        for (let times = 1; times < 12; times++) expect(retryStrategy!(times)).to.equal(recommended(times));
        const { app } = buildApp({ redis, secret: SECRET, authenticate: async () => 'alice' });
        const agent = supertest.agent(app.callback());
        await agent.post('/login').expect(200);
        expect((await agent.get('/me')).body.userId).to.equal('alice');
      } finally {
        redis.disconnect();
      }
    });

    describe('on a real Redis Cluster and behind a real Sentinel', () => {
      const servers: RedisServer[] = [];
      let sentinel: { port: number; stop: () => void; dir: string } | undefined;
      after(async () => {
        sentinel?.stop();
        if (sentinel) rmSync(sentinel.dir, { recursive: true, force: true });
        await Promise.all(servers.splice(0).map((s) => s.stop()));
      });

      it('sessionCluster: every operation of a user stays in one slot (cluster mode refuses cross-slot scripts)', async () => {
        const node = await startRedisServer({
          args: ['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1'],
        });
        servers.push(node);
        const admin = new Redis(node.port, { host: '127.0.0.1' });
        await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
        for (let i = 0; !String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) {
          if (i > 200) throw new Error('the test cluster did not become ready');
          await new Promise((r) => setTimeout(r, 25));
        }
        admin.disconnect();
        const cluster = sessionCluster([{ host: '127.0.0.1', port: node.port }]);
        try {
          await whenReady(cluster);
          const { app, sessions } = buildApp({
            redis: cluster,
            secret: SECRET,
            authenticate: async (ctx) => ctx.get('x-test-user'),
          });
          const agent = supertest.agent(app.callback());
          await agent.post('/login').set('x-test-user', 'a:{b}*').expect(200);
          expect((await agent.get('/devices').expect(200)).body).to.have.length(1);
          await agent.post('/password').expect(204);
          await sessions.rotate('a:{b}*');
          expect((await agent.get('/me')).body).to.include({
            userId: null,
            revoked: 'signed-out-everywhere',
          });
        } finally {
          cluster.disconnect();
        }
      });

      it('sessionSentinel finds the primary through Sentinel', async () => {
        const primary = await startRedisServer();
        servers.push(primary);
        const port = await freePort();
        const dir = mkdtempSync(join(tmpdir(), 'kes-sentinel-'));
        const config = join(dir, 'sentinel.conf');
        writeFileSync(
          config,
          `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor sessions 127.0.0.1 ${primary.port} 1\n`,
        );
        const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
        sentinel = { port, dir, stop: () => child.kill('SIGTERM') };
        await waitForPing(port);
        const redis = sessionSentinel([{ host: '127.0.0.1', port }], 'sessions');
        try {
          await whenReady(redis);
          const { app } = buildApp({ redis, secret: SECRET, authenticate: async () => 'alice' });
          const agent = supertest.agent(app.callback());
          await agent.post('/login').expect(200);
          expect((await agent.get('/me')).body.userId).to.equal('alice');
          const direct = new Redis(primary.port, { host: '127.0.0.1' });
          expect(await direct.keys('sess:{*}:e')).to.have.length(1, 'written on the primary');
          direct.disconnect();
        } finally {
          redis.disconnect();
        }
      });
    });
  });

  describe('docs/migration.md', () => {
    it('adoptingApp keeps koa-redis users signed in, and each old key works only once', async () => {
      const store = koaRedis({ url: testRedisUrl() }) as unknown as { client: Redis };
      try {
        const old = new Koa();
        old.keys = [SECRET];
        old.use(koaSession({ store, maxAge: 86_400_000 } as never, old));
        old.use((ctx) => {
          ctx.session!.userId = 'alice';
          ctx.session!.theme = 'dark';
          ctx.body = 'ok';
        });
        const oldCookie = cookiesOf(await supertest(old.callback()).get('/').expect(200));
        expect(oldCookie).to.match(/^koa\.sess=[0-9a-f-]{36}; koa\.sess\.sig=/);

        const { app, sessions } = adoptingApp(newRedis(), SECRET);
        app.use((ctx) => {
          ctx.body = { userId: sessions.userId(ctx) ?? null, theme: ctx.session!.theme ?? null };
        });
        const moved = await supertest(app.callback()).get('/').set('Cookie', oldCookie).expect(200);
        expect(moved.body).to.deep.equal({ userId: 'alice', theme: 'dark' });
        const newCookie = cookiesOf(moved);
        expect(newCookie).to.match(
          /^koa\.sess=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.[0-9a-z]{8}[A-Za-z0-9_-]{22}; koa\.sess\.sig=/,
        );
        const again = await supertest(app.callback()).get('/').set('Cookie', newCookie).expect(200);
        expect(again.body.userId).to.equal('alice');
        const replay = await supertest(app.callback()).get('/').set('Cookie', oldCookie).expect(200);
        expect(replay.body).to.deep.equal({ userId: null, theme: null });
      } finally {
        await store.client.quit();
      }
    });

    it('adoptExpressSessions moves a connect-redis session once, and refuses a forged cookie', async () => {
      // Written as express-session 1.x and connect-redis 7 write them: a signed "s:" cookie, JSON under sess:<sid>.
      const { sign } = createRequire(import.meta.url)('cookie-signature') as {
        sign: (value: string, secret: string) => string;
      };
      const redis = newRedis();
      const expressSecret = 'the express-session secret';
      const oldSession = async (userId: string) => {
        const sid = randomBytes(24).toString('base64url');
        const cookie = {
          originalMaxAge: 86_400_000,
          expires: new Date(Date.now() + 86_400_000),
          httpOnly: true,
          path: '/',
        };
        await redis.set(`sess:${sid}`, JSON.stringify({ cookie, userId, theme: 'dark' }), 'PX', 86_400_000);
        return { sid, header: `connect.sid=${encodeURIComponent(`s:${sign(sid, expressSecret)}`)}` };
      };

      const app = new Koa();
      app.keys = [SECRET];
      const sessions = createSessions(app, { redis, prefix: 'session:' });
      app.use(sessions.middleware);
      app.use(
        adoptExpressSessions(sessions, {
          redis,
          secret: expressSecret,
          userId: (data) => (typeof data.userId === 'string' ? data.userId : undefined),
        }),
      );
      app.use((ctx) => {
        ctx.body = { userId: sessions.userId(ctx) ?? null, theme: ctx.session!.theme ?? null };
      });

      const alice = await oldSession('alice');
      const moved = await supertest(app.callback()).get('/').set('Cookie', alice.header).expect(200);
      expect(moved.body).to.deep.equal({ userId: 'alice', theme: 'dark' });
      expect(moved.headers['set-cookie']).to.satisfy((lines: string[]) =>
        lines.some((line) => /^connect\.sid=;.*expires=Thu, 01 Jan 1970/.test(line)),
      );
      expect(await redis.exists(`sess:${alice.sid}`)).to.equal(0);
      const again = await supertest(app.callback()).get('/').set('Cookie', cookiesOf(moved)).expect(200);
      expect(again.body.userId).to.equal('alice');
      const replay = await supertest(app.callback()).get('/').set('Cookie', alice.header).expect(200);
      expect(replay.body.userId).to.equal(null);

      const bob = await oldSession('bob');
      const forged = `connect.sid=${encodeURIComponent(`s:${sign(bob.sid, 'not the secret')}`)}`;
      const refused = await supertest(app.callback()).get('/').set('Cookie', forged).expect(200);
      expect(refused.body.userId).to.equal(null);
      expect(await redis.exists(`sess:${bob.sid}`)).to.equal(
        1,
        'a forged cookie does not consume the session',
      );
    });
  });

  describe('the docs quote these samples', () => {
    const pages = ['api.md', 'security.md', 'operations.md', 'migration.md'];

    /** Lines without indentation, blank lines and imports: what a sample must match verbatim. */
    function codeLines(text: string): string[] {
      return text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !/^import\b/.test(line));
    }

    function sources(): string[] {
      const files = [
        ...readdirSync(new URL('lib/', root)).map((f) => `lib/${f}`),
        ...readdirSync(new URL('test/', root), { recursive: true }).map((f) => `test/${f}`),
      ].filter((f) => f.endsWith('.ts'));
      return files.map((f) => codeLines(readFileSync(new URL(f, root), 'utf8')).join('\n'));
    }

    it('every TypeScript block of the four pages is copied from code in lib/ or a test', () => {
      const corpus = sources().map((s) => `\n${s}\n`);
      const missing: string[] = [];
      let blocks = 0;
      for (const page of pages) {
        const text = readFileSync(new URL(`docs/${page}`, root), 'utf8');
        for (const match of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
          blocks += 1;
          // The typed-session block is compiled as it stands, by the test below.
          if (match[1]!.includes("declare module 'koa-epoch-session'")) continue;
          // Recipes are run from the page itself (test/functional/diagnostics-recipes.test.ts).
          if (/<!-- recipe: [\w-]+ -->\s*$/.test(text.slice(0, match.index))) continue;
          const lines = codeLines(match[1]!).join('\n');
          if (lines === '') continue;
          if (!corpus.some((source) => source.includes(`\n${lines}\n`))) {
            missing.push(`${page}: ${match[1]!.split('\n')[0]}…`);
          }
        }
      }
      expect(blocks).to.be.greaterThan(10);
      expect(missing).to.deep.equal([]);
    });

    it('every option (lib/core/options.ts, lib/koa/options.ts), every export and every event has an entry in docs/api.md', () => {
      const api = readFileSync(new URL('docs/api.md', root), 'utf8');
      const options = ['lib/core/options.ts', 'lib/koa/options.ts']
        .map((file) => readFileSync(new URL(file, root), 'utf8'))
        .join('\n');
      // The fields of the option interfaces, not the parameters of the functions that check them.
      const bodies = [...options.matchAll(/^export interface \w*Options\b[^{]*\{([\s\S]*?)^\}/gm)].map(
        (m) => m[1]!,
      );
      const choices = /^export interface CookieChoices \{([\s\S]*?)^\}/m.exec(options)?.[1];
      expect(bodies.length, 'option interfaces found').to.be.at.least(4);
      expect(choices, 'CookieChoices found').to.be.a('string');
      const names = [...[...bodies, choices!].join('\n').matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]!);
      expect(names).to.include.members(['redis', 'maxSessions', 'sameSite', 'onLogin', 'codec']);
      const index = readFileSync(new URL('lib/index.ts', root), 'utf8');
      const exported = [...index.matchAll(/export (?:type )?\{([^}]+)\}/g)].flatMap((m) =>
        m[1]!.split(',').map((n) => n.replace(/\btype\b/, '').trim()),
      );
      const events = ['login', 'revoked', 'rejected', 'limit', 'redis-error'];
      const absent = [...new Set([...names, ...exported])].filter((n) => !api.includes(`\`${n}\``));
      expect(absent).to.deep.equal([]);
      expect(events.filter((e) => !api.includes(`'${e}'`))).to.deep.equal([]);
    });

    it('the typed-session block of docs/api.md compiles, and types ctx.session', () => {
      const api = readFileSync(new URL('docs/api.md', root), 'utf8');
      const block = [...api.matchAll(/```ts\n([\s\S]*?)```/g)]
        .map((m) => m[1]!)
        .find((code) => code.includes("declare module 'koa-epoch-session'"));
      expect(block, 'docs/api.md declares SessionData fields').to.be.a('string');
      // An app of its own: the package installed under its name, the block as one of its modules.
      const dir = mkdtempSync(join(tmpdir(), 'kes-typing-'));
      try {
        mkdirSync(join(dir, 'node_modules'));
        for (const name of readdirSync(new URL('node_modules/', root))) {
          symlinkSync(fileURLToPath(new URL(`node_modules/${name}`, root)), join(dir, 'node_modules', name));
        }
        symlinkSync(fileURLToPath(root), join(dir, 'node_modules', 'koa-epoch-session'));
        writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
        const compilerOptions = {
          strict: true,
          module: 'NodeNext',
          target: 'ES2023',
          noEmit: true,
          types: ['node'],
        };
        writeFileSync(
          join(dir, 'tsconfig.json'),
          JSON.stringify({ compilerOptions, files: ['session.ts', 'app.ts'] }),
        );
        writeFileSync(join(dir, 'session.ts'), block!);
        writeFileSync(
          join(dir, 'app.ts'),
          [
            "import type { Context } from 'koa';",
            'export function addToCart(ctx: Context, item: string) {',
            '  ctx.session!.cart = [...(ctx.session!.cart ?? []), item];',
            '  const locale: string | undefined = ctx.session!.locale;',
            '  return locale;',
            '}',
            'export function wrong(ctx: Context) {',
            '  // @ts-expect-error: cart is a string[]',
            "  ctx.session!.cart = 'three apples';",
            '}',
          ].join('\n'),
        );
        const tsc = spawnSync(
          process.execPath,
          [fileURLToPath(new URL('node_modules/typescript/bin/tsc', root)), '-p', dir],
          { encoding: 'utf8' },
        );
        expect(tsc.stdout + tsc.stderr).to.equal('');
        expect(tsc.status).to.equal(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('the CLI help quoted in docs/operations.md is the one the CLI prints', async () => {
      const ops = readFileSync(new URL('docs/operations.md', root), 'utf8');
      const quoted = /```text\n(Usage: koa-epoch-session <command>[\s\S]*?)```/.exec(ops)?.[1];
      expect(quoted, 'docs/operations.md quotes koa-epoch-session --help').to.be.a('string');
      const printed = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [fileURLToPath(new URL('dist/cli/main.js', root)), '--help']);
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
        });
        child.on('error', reject);
        child.on('close', () => resolve(out));
      });
      expect(quoted).to.equal(printed);
    });
  });
});
