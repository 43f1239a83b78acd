// Issue 15 item 2: freshness for sensitive actions — authenticatedAt, requireFresh and reauthenticate.
import { expect } from 'chai';
import type { Context } from 'koa';
import { SessionNotFreshError } from '../../lib/index.js';
import { closeClients, Gate, makeApp, type TestApp } from '../support/app.js';

const routes = {
  /** A sensitive action: allowed within `fresh` ms of the last sign-in. */
  'POST /change-email': (ctx: Context, t: TestApp) => {
    t.sessions.requireFresh(ctx, Number(ctx.query.fresh ?? 600_000));
    ctx.state.changed = true;
  },
  /** The app checked the password again. */
  'POST /reauth': async (ctx: Context, t: TestApp) => {
    await t.sessions.reauthenticate(ctx);
  },
  'POST /hold-reauth': async (ctx: Context, t: TestApp) => {
    void ctx.session;
    await t.gates.get(String(ctx.query.gate))!.pass();
    await t.sessions.reauthenticate(ctx);
  },
  'GET /auth': (ctx: Context, t: TestApp) => {
    ctx.state.authenticatedAt = t.sessions.authenticatedAt(ctx)?.getTime() ?? null;
  },
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('freshness for sensitive actions (issue 15)', () => {
  afterEach(closeClients);

  it('a fresh login may act; once older than the limit it gets 403 until reauthenticate(), which a later request still sees', async () => {
    const t = makeApp({ rolling: true }, routes);
    const agent = t.agent();
    const before = Date.now();
    await agent.post('/login?user=fay').expect(200);
    const at = (await agent.get('/auth').expect(200)).body.authenticatedAt as number;
    expect(at).to.be.within(before - 1, Date.now());
    expect((await agent.post('/change-email?fresh=5000').expect(200)).body.changed).to.equal(true);

    await pause(150);
    const stale = await agent.post('/change-email?fresh=100');
    expect(stale.status).to.equal(403);
    expect(stale.body.error).to.equal(new SessionNotFreshError(new Date(), 1).name);
    expect(stale.body.message).to.match(/reauthenticate/);

    await agent.post('/reauth').expect(200);
    // Stored with the session: the next request (a new process, for all it knows) sees it.
    expect((await agent.post('/change-email?fresh=100').expect(200)).body.changed).to.equal(true);
    const renewed = (await agent.get('/auth').expect(200)).body.authenticatedAt as number;
    expect(renewed).to.be.greaterThan(at + 100);
    // The stamp is the store's: ctx.session does not show it, and data changes keep it.
    await agent.post('/set?x=1').expect(200);
    const after = await agent.get('/auth').expect(200);
    expect(after.body.data).to.deep.equal({ x: '1' });
    expect(after.body.authenticatedAt).to.equal(renewed);
  });

  it('freshness follows the session through regenerate and logoutOthers, and a new login resets it', async () => {
    const t = makeApp({}, routes);
    const agent = t.agent();
    await agent.post('/login?user=gil').expect(200);
    await pause(120);
    await agent.post('/reauth').expect(200);
    const at = (await agent.get('/auth')).body.authenticatedAt as number;
    await agent.post('/regenerate').expect(200);
    expect((await agent.get('/auth')).body.authenticatedAt).to.equal(at);
    await agent.post('/logout-others').expect(200);
    expect((await agent.get('/auth')).body.authenticatedAt).to.equal(at);
    const other = t.agent();
    await other.post('/login?user=gil').expect(200);
    expect((await other.get('/auth')).body.authenticatedAt).to.be.greaterThan(at);
  });

  it('without a signed-in session: requireFresh is a 403, reauthenticate an error, and a revoked session cannot be made fresh', async () => {
    const t = makeApp({}, routes);
    const anonymous = t.agent();
    expect((await anonymous.post('/change-email').expect(403)).body.error).to.equal('SessionNotFreshError');
    expect((await anonymous.post('/reauth')).status).to.equal(500);
    expect((await anonymous.get('/auth')).body.authenticatedAt).to.equal(null);

    // A request that loaded the session, then waited while the user was signed out everywhere,
    // cannot make it fresh (nor live) again.
    const agent = t.agent();
    await agent.post('/login?user=hal').expect(200);
    const gate = new Gate();
    t.gates.set('g', gate);
    const held = agent.post('/hold-reauth?gate=g').then((r) => r);
    await gate.arrived;
    await t.sessions.rotate('hal');
    gate.release();
    const res = await held;
    expect(res.status).to.equal(403);
    expect((await agent.get('/auth')).body).to.include({ userId: null, authenticatedAt: null });
  });
});
