// Issue 15 on Express: a lifetime chosen per session at login ("remember me"), consistent with express-session's req.session.cookie.maxAge.
import { expect } from 'chai';
import { allKeys } from '../support/redis-view.js';
import {
  captured,
  closeClients,
  cookieValue,
  type ExpressTestApp,
  type Handler,
  makeExpressApp,
  replay,
} from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const routes: Record<string, Handler> = {
  'POST /remember-login': async (req, res, t) => {
    const maxAge = req.query.maxAge === 'session' ? 'session' : Number(req.query.maxAge);
    res.locals.login = await t.sessions.login(req, String(req.query.user), { maxAge });
  },
  /** login() with a maxAge that is not even a number or a string. */
  'POST /odd-login': async (req, res, t) => {
    res.locals.login = await t.sessions.login(req, 'odd', { maxAge: { days: 30 } as never });
  },
  'GET /ends': (req, res, t) => {
    res.locals.expiresAt = t.sessions.expiresAt(req)?.getTime() ?? null;
    res.locals.originalMaxAge = req.session.cookie.originalMaxAge;
  },
};

async function sessionKey(t: ExpressTestApp, user: string): Promise<string> {
  const tag = Buffer.from(user).toString('base64url');
  const keys = (await allKeys(t.redis, `sess:{${tag}}:*:*`)).filter((k) => !/:[xm]:/.test(k));
  expect(keys).to.have.length(1);
  return keys[0]!;
}

async function sessionTtl(t: ExpressTestApp, user: string): Promise<number> {
  return t.redis.pttl(await sessionKey(t, user));
}

function sessionCookie(res: { headers: Record<string, unknown> }): string | undefined {
  return ((res.headers['set-cookie'] as string[] | undefined) ?? []).find((c) => c.startsWith('sid='));
}

function cookieExpiry(res: { headers: Record<string, unknown> }): number | undefined {
  const expires = /expires=([^;]+)/i.exec(sessionCookie(res) ?? '')?.[1];
  return expires ? Date.parse(expires) : undefined;
}

describe('express: remember me, a per-session lifetime (issue 15)', () => {
  afterEach(closeClients);

  it('login(req, id, { maxAge }) sets the cookie, the store TTL, the registry and expiresAt(req) for that session only', async () => {
    const t = makeExpressApp({ maxAge: HOUR, registry: true }, routes);
    const remembered = t.agent();
    const res = await remembered.post(`/remember-login?user=rita&maxAge=${30 * DAY}`).expect(200);
    expect(res.body.userId).to.equal('rita');
    expect(cookieExpiry(res)! - Date.now()).to.be.within(30 * DAY - 5_000, 30 * DAY + 1_000);
    expect(await sessionTtl(t, 'rita')).to.be.within(30 * DAY - 5_000, 30 * DAY);
    const ends = await remembered.get('/ends').expect(200);
    expect(ends.body.originalMaxAge, 'req.session.cookie.maxAge is the chosen one').to.equal(30 * DAY);
    expect(ends.body.expiresAt - Date.now()).to.be.within(30 * DAY - 5_000, 30 * DAY);
    const [listed] = await t.sessions.list('rita');
    expect(listed!.expiresAt.getTime()).to.equal(ends.body.expiresAt);
    // Another login of the same app keeps the default.
    const usual = await t.agent().post('/login?user=otto').expect(200);
    expect(cookieExpiry(usual)! - Date.now()).to.be.within(HOUR - 5_000, HOUR + 1_000);
    expect(await sessionTtl(t, 'otto')).to.be.within(HOUR - 5_000, HOUR);
  });

  it('the chosen lifetime survives rolling saves and a regenerate, and absoluteMaxAge still caps it', async () => {
    const t = makeExpressApp({ maxAge: HOUR, rolling: true, absoluteMaxAge: 2 * DAY }, routes);
    const agent = t.agent();
    const login = await agent.post(`/remember-login?user=rolf&maxAge=${30 * DAY}`).expect(200);
    // Capped at the absolute lifetime from login, not 30 days: the cookie and the store agree.
    expect(await sessionTtl(t, 'rolf')).to.be.within(2 * DAY - 5_000, 2 * DAY);
    expect(cookieExpiry(login)! - Date.now()).to.be.within(2 * DAY - 5_000, 2 * DAY + 1_000);
    await agent.post('/set?x=1').expect(200);
    await agent.post('/regenerate').expect(200);
    const res = await agent.get('/ends').expect(200);
    expect(res.body.userId).to.equal('rolf');
    expect(res.body.originalMaxAge).to.equal(30 * DAY);
    expect(res.body.expiresAt - Date.now()).to.be.within(2 * DAY - 5_000, 2 * DAY);
    expect(cookieExpiry(res)! - Date.now()).to.be.within(2 * DAY - 5_000, 2 * DAY + 1_000);
    expect(await sessionTtl(t, 'rolf')).to.be.within(2 * DAY - 5_000, 2 * DAY);
  });

  it('a rolling 30-day session moves its end 30 days on, not the default hour', async () => {
    const t = makeExpressApp({ maxAge: HOUR, rolling: true }, routes);
    const agent = t.agent();
    await agent.post(`/remember-login?user=rhea&maxAge=${30 * DAY}`).expect(200);
    const key = await sessionKey(t, 'rhea');
    // As if the session had been idle for a day: the next request's touch moves the end back.
    await t.redis.pexpire(key, 29 * DAY);
    const stored = (await t.redis.get(key))!;
    const earlier = (Date.now() + 29 * DAY).toString(36).padStart(9, '0');
    await t.redis.set(key, earlier + stored.slice(9), 'KEEPTTL');
    const res = await agent.get('/whoami').expect(200);
    expect(res.body.userId).to.equal('rhea');
    expect(cookieExpiry(res)! - Date.now()).to.be.within(30 * DAY - 5_000, 30 * DAY + 1_000);
    expect(await sessionTtl(t, 'rhea')).to.be.within(30 * DAY - 5_000, 30 * DAY);
  });

  it("'session' gives a browser-session cookie, bounded in the store by browserSessionTtl, and stays one", async () => {
    const t = makeExpressApp({ maxAge: DAY, browserSessionTtl: 2 * HOUR, rolling: true }, routes);
    const agent = t.agent();
    const res = await agent.post('/remember-login?user=sam&maxAge=session').expect(200);
    expect(sessionCookie(res)).to.be.a('string');
    expect(cookieExpiry(res)).to.equal(undefined);
    expect(await sessionTtl(t, 'sam')).to.be.within(2 * HOUR - 5_000, 2 * HOUR);
    const later = await agent.post('/set?x=1').expect(200);
    expect(sessionCookie(later), 'rolling re-sends it').to.be.a('string');
    expect(cookieExpiry(later), 'still without Expires').to.equal(undefined);
    expect((await agent.get('/ends')).body).to.deep.include({ userId: 'sam', originalMaxAge: null });
    expect(await sessionTtl(t, 'sam')).to.be.within(2 * HOUR - 5_000, 2 * HOUR);
  });

  it('is the same per-session lifetime as req.session.cookie.maxAge: stored only when not the default, and changed by it later', async () => {
    const t = makeExpressApp({ maxAge: DAY }, routes);
    const usual = t.agent();
    await usual.post('/login?user=uma').expect(200);
    await usual.post('/set?x=1').expect(200);
    const remembered = t.agent();
    const login = await remembered.post(`/remember-login?user=ula&maxAge=${30 * DAY}`).expect(200);
    const stored = async (user: string) => (await t.redis.get(await sessionKey(t, user)))!;
    expect(await stored('uma')).to.not.include('originalMaxAge');
    expect(await stored('ula')).to.include(`"originalMaxAge":${30 * DAY}`);
    // Another app instance reads the same lifetime from the store.
    const other = makeExpressApp({ maxAge: DAY, redis: t.redis }, routes);
    const replayed = await replay(other, captured(login)!, '/ends');
    expect(replayed.body).to.deep.include({ userId: 'ula', originalMaxAge: 30 * DAY });
    // The app shortens it the express-session way: the cookie and the store follow.
    const res = await remembered.post(`/remember?ms=${HOUR}`).expect(200);
    expect(cookieExpiry(res)! - Date.now()).to.be.within(HOUR - 5_000, HOUR + 1_000);
    expect(await sessionTtl(t, 'ula')).to.be.within(HOUR - 5_000, HOUR);
    expect((await remembered.get('/whoami')).body.userId).to.equal('ula');
  });

  it("login's maxAge replaces a cookie.maxAge the visitor's anonymous session had; without one, that one is carried over", async () => {
    const t = makeExpressApp({ maxAge: HOUR }, routes);
    const anonymous = async () => {
      const agent = t.agent();
      await agent.post('/set?cart=2').expect(200);
      await agent.post(`/remember?ms=${7 * DAY}`).expect(200);
      expect(await allKeys(t.redis, 'sess:a:*')).to.not.deep.equal([]);
      return agent;
    };
    const chosen = await anonymous();
    await chosen.post(`/remember-login?user=vic&maxAge=${30 * DAY}`).expect(200);
    expect(await sessionTtl(t, 'vic')).to.be.within(30 * DAY - 5_000, 30 * DAY);
    expect((await chosen.get('/ends')).body).to.deep.include({
      data: { cart: '2' },
      originalMaxAge: 30 * DAY,
    });
    const carried = await anonymous();
    await carried.post('/login?user=val').expect(200);
    expect(await sessionTtl(t, 'val')).to.be.within(7 * DAY - 5_000, 7 * DAY);
  });

  it('refuses a maxAge that is not a whole number of ms or "session", and changes nothing', async () => {
    const t = makeExpressApp({ saveUninitialized: true }, routes);
    for (const bad of ['0', '-5', '1.5', 'NaN', `${200 * 365 * DAY}`]) {
      const agent = t.agent();
      await agent.post('/set?cart=3').expect(200);
      const res = await agent.post(`/remember-login?user=uma&maxAge=${bad}`);
      expect(res.status, bad).to.equal(500);
      expect(res.body.error).to.equal('TypeError');
      expect(res.body.message).to.match(/login\(\) maxAge must be a whole number of milliseconds/);
      expect((await agent.get('/whoami')).body, bad).to.deep.include({ userId: null, data: { cart: '3' } });
    }
    const odd = await t.agent().post('/odd-login');
    expect(odd.body).to.deep.include({ error: 'TypeError' });
    expect(await allKeys(t.redis, 'sess:{*')).to.deep.equal([]);
    expect(cookieValue(await t.agent().post('/login?user=uma'))).to.be.a('string');
  });
});
