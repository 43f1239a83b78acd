// Lazy adoption of connect-redis sessions: written by the real connect-redis 10, read once by this store, moved, never reusable.
import { expect } from 'chai';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient, createCluster } from 'redis';
import supertest from 'supertest';
import { createExpressSessions } from '../../lib/express/index.js';
import { newRedis } from '../support/app.js';
import { testClusterNodes, testRedisUrl } from '../support/hooks.js';
import { allKeys } from '../support/redis-view.js';
import { captured, closeClients, cookieValue, makeExpressApp, replay, SECRET } from './support.js';

const HOUR = 3_600_000;

/** The app before the migration: express-session on connect-redis, its default prefix `sess:`. */
async function connectRedisApp() {
  const nodes = testClusterNodes();
  const client = nodes
    ? createCluster({ rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) })
    : createClient({ url: testRedisUrl() });
  await client.connect();
  const app = express();
  app.use(
    session({
      store: new RedisStore({ client: client as ReturnType<typeof createClient> }),
      secret: SECRET,
      name: 'connect.sid',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: HOUR },
    }),
  );
  app.post('/login', (req, res) => {
    req.session.regenerate(() => {
      // Passport keeps the signed-in user at passport.user.
      Object.assign(req.session, { passport: { user: req.query.user }, cart: 3 });
      res.json({ ok: true });
    });
  });
  app.post('/cart', (req, res) => {
    Object.assign(req.session, { cart: 5 });
    res.json({ ok: true });
  });
  return { app, close: () => client.close() };
}

/** The app after: this store under its own prefix, reading the old cookie name, adopting old keys (docs/migration.md). */
function migratedApp() {
  const redis = newRedis();
  const secret = SECRET;
  const sessions = createExpressSessions({
    redis, // the client connect-redis used, or another on the same Redis
    secret, // express-session's secret, unchanged: old cookies still verify
    name: 'connect.sid', // express-session's default cookie name, kept
    prefix: 'kes:', // new keys apart from connect-redis's 'sess:'
    registry: true,
    legacy: {
      prefix: 'sess:', // connect-redis's prefix
      maxAge: 24 * 3600_000, // the old cookie.maxAge: how long a not-yet-moved session can live
      userId: (data) => (data.passport as { user?: string } | undefined)?.user, // Passport's user id
    },
  });
  return makeExpressApp({ redis }, {}, sessions);
}

describe('express: lazy adoption of connect-redis sessions (docs/migration.md)', () => {
  afterEach(closeClients);

  it('a signed-in connect-redis session keeps working: moved under the user epoch with a new sid, its old key and cookie dead', async () => {
    const old = await connectRedisApp();
    try {
      const login = await supertest(old.app).post('/login?user=alice').expect(200);
      const oldCookie = captured(login, 'connect.sid')!;
      const [oldKey] = await allKeys(makeExpressApp().redis, 'sess:*');
      const t = migratedApp();
      const remaining = await t.redis.pttl(oldKey!);

      const res = await supertest(t.app).get('/whoami').set('Cookie', oldCookie).expect(200);
      expect(res.body.userId).to.equal('alice');
      expect(res.body.data).to.deep.include({ cart: 3, passport: { user: 'alice' } });
      expect(await t.redis.exists(oldKey!)).to.equal(0, 'the connect-redis key is gone');
      const newCookie = captured(res, 'connect.sid');
      expect(newCookie, 'the adoption re-issues the cookie').to.be.a('string');
      expect(cookieValue(res, 'connect.sid')).to.match(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.[0-9a-z]{8}/);

      expect(await replay(t, oldCookie)).to.deep.include({ userId: null, data: {} });
      expect((await replay(t, newCookie!)).userId).to.equal('alice');
      const [key] = (await allKeys(t.redis, 'kes:{*}:*:*')).filter((k) => !/:[xm]:/.test(k));
      expect(await t.redis.pttl(key!)).to.be.closeTo(
        remaining,
        5_000,
        'the remaining lifetime, not a new one',
      );
      expect(await t.sessions.list('alice')).to.have.length(1);
      expect(await t.sessions.rotate('alice')).to.equal(true);
      expect((await replay(t, newCookie!)).userId).to.equal(null);
    } finally {
      await old.close();
    }
  });

  it('an anonymous connect-redis session (a cart) becomes an anonymous session of this store', async () => {
    const old = await connectRedisApp();
    try {
      const cart = await supertest(old.app).post('/cart').expect(200);
      const t = migratedApp();
      const res = await supertest(t.app).get('/whoami').set('Cookie', captured(cart, 'connect.sid')!);
      expect(res.body).to.deep.include({ userId: null, data: { cart: 5 } });
      expect(await allKeys(t.redis, 'sess:*')).to.deep.equal([]);
      expect(await allKeys(t.redis, 'kes:a:*')).to.have.length(1);
      expect((await replay(t, captured(res, 'connect.sid')!)).data).to.deep.equal({ cart: 5 });
    } finally {
      await old.close();
    }
  });

  it('rotate(user) during the migration also revokes the connect-redis sessions not moved yet', async () => {
    const old = await connectRedisApp();
    try {
      const login = await supertest(old.app).post('/login?user=bob').expect(200);
      const t = migratedApp();
      expect(await t.sessions.rotate('bob')).to.equal(true);
      const res = await replay(t, captured(login, 'connect.sid')!);
      expect(res.body).to.deep.include({ userId: null, data: {}, revoked: 'signed-out-everywhere' });
    } finally {
      await old.close();
    }
  });
});
