// Issue 15 on Express: freshness for sensitive actions — authenticatedAt, requireFresh and reauthenticate, as in Koa.
import { expect } from 'chai';
import type { Request } from 'express';
import supertest from 'supertest';
import { createExpressSessions, SessionNotFreshError } from '../../lib/express/index.js';
import { newRedis } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';
import {
  captured,
  closeClients,
  cookieValue,
  type ExpressTestApp,
  Gate,
  type Handler,
  liveSessionKeys,
  makeExpressApp,
  SECRET,
  signedCookie,
} from './support.js';

const regenerate = (req: Request) =>
  new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));

const routes: Record<string, Handler> = {
  /** A sensitive action: allowed within `fresh` ms of the last sign-in. */
  'POST /change-email': (req, res, t) => {
    t.sessions.requireFresh(req, Number(req.query.fresh ?? 600_000));
    res.locals.changed = true;
  },
  /** The app checked the password again. */
  'POST /reauth': async (req, _res, t) => {
    await t.sessions.reauthenticate(req);
  },
  'POST /regenerate-reauth': async (req, _res, t) => {
    await regenerate(req);
    await t.sessions.reauthenticate(req);
  },
  'POST /hold-reauth': async (req, _res, t) => {
    await t.gates.get(String(req.query.gate))!.pass();
    await t.sessions.reauthenticate(req);
  },
  /** App code that writes the field the store keeps the stamp in: it must not make a session fresh. */
  'POST /forge': (req) => {
    (req.session as any)._auth = Date.now();
    (req.session as any).x = 'forged';
  },
  'GET /auth': (req, res, t) => {
    res.locals.authenticatedAt = t.sessions.authenticatedAt(req)?.getTime() ?? null;
  },
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('express: freshness for sensitive actions (issue 15)', () => {
  afterEach(closeClients);

  it('a fresh login may act; once older than the limit it gets 403 until reauthenticate(), which a later request still sees', async () => {
    const t = makeExpressApp({ rolling: true }, routes);
    const agent = t.agent();
    const before = Date.now();
    const login = await agent.post('/login?user=fay').expect(200);
    const at = (await agent.get('/auth').expect(200)).body.authenticatedAt as number;
    expect(at).to.be.within(before - 1, Date.now());
    expect((await agent.post('/change-email?fresh=5000').expect(200)).body.changed).to.equal(true);

    await pause(400);
    const stale = await agent.post('/change-email?fresh=300');
    expect(stale.status).to.equal(403);
    expect(stale.body.error).to.equal(new SessionNotFreshError(new Date(), 1).name);
    expect(stale.body.message).to.match(/reauthenticate/);

    const [key] = await liveSessionKeys(t);
    // A window the login is already too old for (by at least 1 ms), yet wide enough (about 400 ms)
    // for the re-authentication and the checks after it, however slow the machine is right now.
    const fresh = Date.now() - at - 1;
    await agent.post('/reauth').expect(200);
    // Stored with the session: the next request (another app instance, for all it knows) sees it.
    const other = makeExpressApp({ redis: t.redis }, routes);
    const elsewhere = await supertest(other.app)
      .post(`/change-email?fresh=${fresh}`)
      .set('Cookie', captured(login)!);
    expect(elsewhere.status).to.equal(200);
    expect((await agent.post(`/change-email?fresh=${fresh}`).expect(200)).body.changed).to.equal(true);
    expect(await liveSessionKeys(t), 'no new sid').to.deep.equal([key]);
    const renewed = (await agent.get('/auth').expect(200)).body.authenticatedAt as number;
    expect(renewed).to.be.greaterThan(at + 400);
    // The stamp is the store's: req.session does not show it, and data changes keep it.
    await agent.post('/set?x=1').expect(200);
    const after = await agent.get('/auth').expect(200);
    expect(after.body.data).to.deep.equal({ x: '1' });
    expect(after.body.authenticatedAt).to.equal(renewed);
  });

  it('freshness follows the session through regenerate and logoutOthers, and a new login resets it', async () => {
    const t = makeExpressApp({}, routes);
    const agent = t.agent();
    await agent.post('/login?user=gil').expect(200);
    await pause(120);
    await agent.post('/reauth').expect(200);
    const at = (await agent.get('/auth')).body.authenticatedAt as number;
    await agent.post('/regenerate').expect(200);
    expect((await agent.get('/auth')).body).to.deep.include({ userId: 'gil', authenticatedAt: at });
    await agent.post('/logout-others').expect(200);
    expect((await agent.get('/auth')).body).to.deep.include({ userId: 'gil', authenticatedAt: at });
    // reauthenticate() between a regenerate() and its write moves the key with the new stamp.
    await pause(20);
    await agent.post('/regenerate-reauth').expect(200);
    const moved = (await agent.get('/auth')).body;
    expect(moved.userId).to.equal('gil');
    expect(moved.authenticatedAt).to.be.greaterThan(at);
    expect(await liveSessionKeys(t)).to.have.length(1);
    const other = t.agent();
    await other.post('/login?user=gil').expect(200);
    expect((await other.get('/auth')).body.authenticatedAt).to.be.greaterThan(moved.authenticatedAt);
  });

  it("a req.session._auth written by the app is not the store's stamp: the session stays as fresh as it was", async () => {
    const t = makeExpressApp({}, routes);
    const agent = t.agent();
    await agent.post('/login?user=ida').expect(200);
    const at = (await agent.get('/auth')).body.authenticatedAt as number;
    await pause(150);
    await agent.post('/forge').expect(200);
    expect((await agent.get('/auth')).body).to.deep.include({ authenticatedAt: at, data: { x: 'forged' } });
    expect((await agent.post('/change-email?fresh=100')).status).to.equal(403);
  });

  it('without a signed-in session: requireFresh is a 403, reauthenticate an error, authenticatedAt undefined', async () => {
    const t = makeExpressApp({ saveUninitialized: true }, routes);
    const anonymous = t.agent();
    await anonymous.post('/set?cart=1').expect(200);
    expect((await anonymous.post('/change-email').expect(403)).body.error).to.equal('SessionNotFreshError');
    const reauth = await anonymous.post('/reauth');
    expect(reauth.status).to.equal(500);
    expect(reauth.body.message).to.match(/reauthenticate\(\) needs a signed-in session/);
    expect((await anonymous.get('/auth')).body).to.deep.include({ userId: null, authenticatedAt: null });
    expect(() => t.sessions.requireFresh({ headers: {} } as Request, 0)).to.throw(TypeError, /requireFresh/);
  });

  for (const registry of [false, true]) {
    it(`reauthenticate() of a session revoked meanwhile refuses, and makes it neither fresh nor live (registry: ${registry})`, async () => {
      const t = makeExpressApp({ registry }, routes);
      const agent = t.agent();
      const login = await agent.post('/login?user=hal').expect(200);
      const cookie = captured(login)!;
      const gate = new Gate();
      t.gates.set('g', gate);
      const held = agent.post('/hold-reauth?gate=g').then((r) => r);
      await gate.arrived;
      await t.sessions.rotate('hal');
      gate.release();
      const res = await held;
      expect(res.status).to.equal(403);
      expect(res.body.error).to.equal('SessionNotFreshError');
      // Like any request that finds its session revoked while it ran: no cookie for a new session.
      expect(cookieValue(res)).to.equal(undefined);
      expect(await liveSessionKeys(t)).to.deep.equal([]);
      const replayed = await supertest(t.app).get('/auth').set('Cookie', cookie);
      expect(replayed.body).to.include({ userId: null, authenticatedAt: null });
    });
  }

  it('an adopted connect-redis session is signed in but never fresh, until reauthenticate()', async () => {
    const redis = newRedis();
    const sessions = createExpressSessions({
      redis,
      secret: SECRET,
      prefix: 'kes:',
      legacy: { prefix: 'sess:', userId: (data) => (data.passport as { user?: string } | undefined)?.user },
    });
    const t: ExpressTestApp = makeExpressApp({ redis }, routes, sessions);
    // What express-session on connect-redis stored for a signed-in user a minute ago.
    const now = Date.now();
    const legacy = {
      cookie: {
        originalMaxAge: 3_600_000,
        expires: new Date(now + 3_540_000).toISOString(),
        httpOnly: true,
        path: '/',
      },
      passport: { user: 'ada' },
    };
    await t.redis.set('sess:legacy-sid-1', JSON.stringify(legacy), 'PX', 3_540_000);
    const res = await supertest(t.app).get('/auth').set('Cookie', signedCookie('legacy-sid-1')).expect(200);
    expect(res.body).to.deep.include({ userId: 'ada', authenticatedAt: 0 });
    const adopted = captured(res)!;
    expect(cookieValue(res)).to.be.a('string');
    const stale = await supertest(t.app).post('/change-email?fresh=600000').set('Cookie', adopted);
    expect(stale.status, 'not fresh on the adopting request, nor later').to.equal(403);
    expect(stale.body.error).to.equal('SessionNotFreshError');
    await supertest(t.app).post('/reauth').set('Cookie', adopted).expect(200);
    await supertest(t.app).post('/change-email?fresh=600000').set('Cookie', adopted).expect(200);
    expect(await allKeys(t.redis, 'sess:*')).to.deep.equal([]);
  });
});
