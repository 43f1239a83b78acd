import { expect } from 'chai';
import Koa from 'koa';
// koa-redis 4: the classic store we adopt from.
import koaRedis from 'koa-redis';
import session from 'koa-session';
import supertest from 'supertest';
import { createSessions } from '../../lib/index.js';
import { APP_KEYS, closeClients, newRedis } from '../support/app.js';
import { testClusterNodes, testRedisUrl } from '../support/hooks.js';
import { allKeys } from '../support/redis-view.js';

/** The app as it was: koa-session with koa-redis, the user id kept in the session. */
function legacyApp(store: unknown, genid?: () => string) {
  const app = new Koa();
  app.keys = APP_KEYS;
  app.use(session({ store, genid, maxAge: 3_600_000 } as never, app));
  app.use(async (ctx) => {
    if (ctx.path === '/login') ctx.session!.userId = String(ctx.query.user);
    if (ctx.path === '/cart') ctx.session!.cart = 'three apples';
    ctx.body = { userId: ctx.session!.userId ?? null };
  });
  return app;
}

/** The same app after switching to this store, keeping the cookie name and reading old keys. */
function adoptingApp() {
  const app = new Koa();
  app.keys = APP_KEYS;
  const sessions = createSessions(app, {
    redis: newRedis(),
    key: 'koa.sess',
    registry: true,
    legacy: { prefix: '', userId: (data) => (typeof data.userId === 'string' ? data.userId : undefined) },
  });
  app.use(sessions.middleware);
  app.use(async (ctx) => {
    ctx.body = { userId: sessions.userId(ctx) ?? null, data: ctx.session!.toJSON() };
  });
  return { app, sessions };
}

describe('adoption from koa-redis without logging anyone out (issue 7)', () => {
  let store: { client: { quit(): Promise<unknown> } };
  beforeEach(() => {
    const nodes = testClusterNodes();
    // koa-redis 4 speaks to a cluster through its own ioredis 4 Cluster client.
    const options = nodes ? { isRedisCluster: true, nodes, clusterOptions: {} } : { url: testRedisUrl() };
    store = koaRedis(options as never) as unknown as typeof store;
  });
  afterEach(async () => {
    await store.client.quit();
    await closeClients();
  });

  it('moves a signed-in koa-redis session under its user, and an anonymous one to the anonymous namespace', async () => {
    const old = legacyApp(store);
    const alice = supertest.agent(old.callback());
    const visitor = supertest.agent(old.callback());
    await alice.get('/login?user=alice').expect(200);
    await visitor.get('/cart').expect(200);
    const legacyKeys = await allKeys(newRedis(), '*');
    expect(legacyKeys).to.have.length(2);

    const next = adoptingApp();
    // The same browsers (cookie jars) now talk to the new app.
    const aliceNow = await supertest(next.app.callback())
      .get('/')
      .set('Cookie', jarCookies(alice))
      .expect(200);
    expect(aliceNow.body.userId).to.equal('alice');
    expect(aliceNow.body.data).to.include({ userId: 'alice' });
    const visitorNow = await supertest(next.app.callback())
      .get('/')
      .set('Cookie', jarCookies(visitor))
      .expect(200);
    expect(visitorNow.body).to.deep.include({ userId: null, data: { cart: 'three apples' } });

    // The old keys are gone, and the new cookies work on their own.
    const redis = newRedis();
    for (const key of legacyKeys) expect(await redis.exists(key)).to.equal(0);
    const aliceCookie = setCookies(aliceNow);
    expect(aliceCookie).to.match(/^koa\.sess=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.[0-9a-z]{8}/);
    const again = await supertest(next.app.callback()).get('/').set('Cookie', aliceCookie).expect(200);
    expect(again.body.userId).to.equal('alice');
    expect(await next.sessions.list('alice')).to.have.length(1);

    // A moved legacy cookie cannot be used again.
    const replay = await supertest(next.app.callback()).get('/').set('Cookie', jarCookies(alice)).expect(200);
    expect(replay.body).to.deep.include({ userId: null, data: {} });

    // And rotation reaches adopted sessions like any other.
    await next.sessions.rotate('alice');
    expect((await supertest(next.app.callback()).get('/').set('Cookie', aliceCookie)).body.userId).to.equal(
      null,
    );
  });

  it("leaves a key that is not a string alone: another application's data is neither adopted nor deleted", async () => {
    // A signed cookie that names some other application's hash (the cookie is genuine here; the
    // point is what the store does with a key it did not expect).
    const old = legacyApp(store, () => 'other-app:hash:1');
    const visitor = supertest.agent(old.callback());
    await visitor.get('/login?user=mallory').expect(200);
    const redis = newRedis();
    await redis.del('other-app:hash:1');
    await redis.hset('other-app:hash:1', 'userId', 'alice');
    await redis.pexpire('other-app:hash:1', 60_000);

    const next = adoptingApp();
    const res = await supertest(next.app.callback()).get('/').set('Cookie', jarCookies(visitor)).expect(200);
    expect(res.body).to.deep.include({ userId: null, data: {} });
    expect(await redis.type('other-app:hash:1')).to.equal('hash');
    expect(await redis.hget('other-app:hash:1', 'userId')).to.equal('alice');
  });
});

function jarCookies(agent: ReturnType<typeof supertest.agent>): string {
  const jar = (agent as unknown as { jar: { getCookies(o: unknown): Array<{ toValueString(): string }> } })
    .jar;
  return jar
    .getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false })
    .map((c) => c.toValueString())
    .join('; ');
}

function setCookies(res: { headers: Record<string, unknown> }): string {
  return ((res.headers['set-cookie'] as string[]) ?? []).map((c) => c.split(';')[0]).join('; ');
}
