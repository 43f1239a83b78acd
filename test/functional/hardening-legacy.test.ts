// Issue 11, cases 3 and 8b: during a legacy migration, rotate reaches sessions not yet adopted, and adoption obeys maxSessions.
import { expect } from 'chai';
import Koa from 'koa';
import koaRedis from 'koa-redis';
import session from 'koa-session';
import supertest from 'supertest';
import { createSessionAdmin, createSessions, type EpochSessionOptions } from '../../lib/index.js';
import { APP_KEYS, closeClients, newRedis } from '../support/app.js';
import { testClusterNodes, testRedisUrl } from '../support/hooks.js';
import { captured } from '../support/replay.js';

const COOKIE = 'koa.sess';
const legacyUser = (data: Record<string, unknown>) =>
  typeof data.userId === 'string' ? data.userId : undefined;

/** The app as it was: koa-session with koa-redis, the user id kept in the session. */
function legacyApp(store: unknown) {
  const app = new Koa();
  app.keys = APP_KEYS;
  app.use(session({ store, maxAge: 3_600_000 } as never, app));
  app.use(async (ctx) => {
    if (ctx.path === '/login') {
      ctx.session!.userId = String(ctx.query.user);
      ctx.session!.secret = `legacy-secret-of-${ctx.query.user}`;
    }
    ctx.body = { userId: ctx.session!.userId ?? null };
  });
  return app;
}

/** A koa-redis session signed in as `user`, as the Cookie header its browser holds. */
async function legacySession(store: unknown, user: string): Promise<string> {
  const res = await supertest(legacyApp(store).callback()).get(`/login?user=${user}`).expect(200);
  const cookie = captured(res, COOKIE);
  expect(cookie, 'koa-session set its cookie').to.be.a('string');
  return cookie!;
}

/** The same app after switching to this store, adopting the old keys. */
function adoptingApp(options: Partial<EpochSessionOptions> = {}) {
  const app = new Koa();
  app.keys = APP_KEYS;
  app.silent = true;
  const sessions = createSessions(app, {
    redis: newRedis(),
    key: COOKIE,
    registry: true,
    legacy: { prefix: '', userId: legacyUser },
    ...options,
  });
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const err = error as { status?: number; name?: string; message?: string };
      ctx.status = err.status ?? 500;
      ctx.body = { error: err.name, message: err.message };
    }
  });
  app.use(sessions.middleware);
  app.use(async (ctx) => {
    if (ctx.path === '/login') await sessions.login(ctx, String(ctx.query.user));
    ctx.body = { userId: sessions.userId(ctx) ?? null, data: ctx.session?.toJSON() ?? null };
  });
  return { app, sessions };
}

/** What a request presenting `cookie` to the new app gets. */
async function present(app: Koa, cookie: string) {
  const res = await supertest(app.callback()).get('/').set('Cookie', cookie);
  expect(res.status).to.equal(200);
  return res;
}

describe('hardening (issue 11): legacy sessions during a migration', () => {
  let store: { client: { quit(): Promise<unknown> } };
  beforeEach(() => {
    const nodes = testClusterNodes();
    const options = nodes ? { isRedisCluster: true, nodes, clusterOptions: {} } : { url: testRedisUrl() };
    store = koaRedis(options as never) as unknown as typeof store;
  });
  afterEach(async () => {
    await store.client.quit();
    await closeClients();
  });

  for (const via of ['sessions.rotate', 'createSessionAdmin({ legacy }).rotate'] as const) {
    it(`invariant 1: ${via}(user) revokes the user's koa-redis session that was not adopted yet; another user's is still adopted`, async () => {
      const aliceLegacy = await legacySession(store, 'alice');
      const bobLegacy = await legacySession(store, 'bob');
      const next = adoptingApp();

      if (via === 'sessions.rotate') await next.sessions.rotate('alice');
      else
        await createSessionAdmin({
          redis: newRedis(),
          registry: true,
          legacy: { prefix: '', userId: legacyUser },
        }).rotate('alice');

      const alice = await present(next.app, aliceLegacy);
      expect(alice.body.userId, "alice's legacy cookie, presented after rotate('alice')").to.equal(null);
      expect(JSON.stringify(alice.body), 'the revoked legacy data was served').to.not.include(
        'legacy-secret-of-alice',
      );
      // And it stays revoked: no second presentation adopts it either.
      expect((await present(next.app, aliceLegacy)).body.userId).to.equal(null);

      const bob = await present(next.app, bobLegacy);
      expect(bob.body.userId, "bob's legacy session is adopted as usual").to.equal('bob');
      expect(bob.body.data).to.include({ secret: 'legacy-secret-of-bob' });
      const bobNow = captured(bob, COOKIE);
      expect(bobNow, 'adoption re-issues the cookie').to.be.a('string');
      const again = await present(next.app, bobNow!);
      expect(again.body.userId).to.equal('bob');
    });
  }

  it('session limit (SPEC section 5, maxSessions "reject"): adopting a legacy session of a user already at the limit creates no extra session', async () => {
    const aliceLegacy = await legacySession(store, 'alice');
    const next = adoptingApp({ maxSessions: 2, sessionLimitPolicy: 'reject' });
    const devices: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await supertest(next.app.callback()).post('/login?user=alice').expect(200);
      devices.push(captured(res, COOKIE)!);
    }
    expect(await next.sessions.list('alice')).to.have.length(2);

    const adopted = await present(next.app, aliceLegacy);
    expect(adopted.body.userId, 'the adopted request is signed in as a third session').to.equal(null);
    const reissued = captured(adopted, COOKIE);
    if (reissued !== undefined) {
      expect(await signedInAsIn(next.app, reissued), 'the cookie the adoption issued').to.equal(null);
    }
    expect(await next.sessions.list('alice'), 'sessions.list after the adoption').to.have.length(2);
    for (const device of devices) expect(await signedInAsIn(next.app, device)).to.equal('alice');
  });
});

async function signedInAsIn(app: Koa, cookie: string): Promise<string | null> {
  const res = await present(app, cookie);
  return res.body.userId ?? null;
}
