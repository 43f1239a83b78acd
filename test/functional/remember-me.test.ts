// Issue 15 item 1: a lifetime chosen per session at login ("remember me"), and koa-session's ctx.session.maxAge.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, cookieValue, makeApp, type TestApp } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const routes = {
  'POST /remember': async (ctx: Context, t: TestApp) => {
    const maxAge = ctx.query.maxAge === 'session' ? 'session' : Number(ctx.query.maxAge);
    ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user), { maxAge });
  },
  'POST /shorten': (ctx: Context) => {
    ctx.session!.maxAge = Number(ctx.query.maxAge);
  },
  'GET /ends': async (ctx: Context, t: TestApp) => {
    ctx.state.expiresAt = t.sessions.expiresAt(ctx)?.getTime() ?? null;
  },
};

async function sessionTtl(t: TestApp, user: string): Promise<number> {
  const tag = Buffer.from(user).toString('base64url');
  const keys = (await allKeys(t.redis, `sess:{${tag}}:*:*`)).filter((k) => !/:[xm]:/.test(k));
  expect(keys).to.have.length(1);
  return t.redis.pttl(keys[0]!);
}

function cookieExpiry(res: { headers: Record<string, unknown> }): number | undefined {
  const line = ((res.headers['set-cookie'] as string[]) ?? []).find((c) => c.startsWith('sid='));
  const expires = line && /expires=([^;]+)/i.exec(line)?.[1];
  return expires ? Date.parse(expires) : undefined;
}

describe('remember me: a per-session lifetime (issue 15)', () => {
  afterEach(closeClients);

  it('login(ctx, id, { maxAge }) sets the cookie, the store TTL, the registry and expiresAt(ctx) for that session only', async () => {
    const t = makeApp({ maxAge: HOUR, registry: true }, routes);
    const remembered = t.agent();
    const res = await remembered.post(`/remember?user=rita&maxAge=${30 * DAY}`).expect(200);
    expect(cookieExpiry(res)! - Date.now()).to.be.within(30 * DAY - 5_000, 30 * DAY + 1_000);
    expect(await sessionTtl(t, 'rita')).to.be.within(30 * DAY - 5_000, 30 * DAY);
    const ends = (await remembered.get('/ends').expect(200)).body.expiresAt as number;
    expect(ends - Date.now()).to.be.within(30 * DAY - 5_000, 30 * DAY);
    const [listed] = await t.sessions.list('rita');
    expect(listed!.expiresAt.getTime()).to.equal(ends);
    // Another login of the same app keeps the default.
    await t.agent().post('/login?user=otto').expect(200);
    expect(await sessionTtl(t, 'otto')).to.be.within(HOUR - 5_000, HOUR);
  });

  it('the chosen lifetime survives rolling saves and a regenerate, and absoluteMaxAge still caps it', async () => {
    const t = makeApp({ maxAge: HOUR, rolling: true, absoluteMaxAge: 2 * DAY }, routes);
    const agent = t.agent();
    await agent.post(`/remember?user=rolf&maxAge=${30 * DAY}`).expect(200);
    // Capped at the absolute lifetime from login, not 30 days.
    expect(await sessionTtl(t, 'rolf')).to.be.within(2 * DAY - 5_000, 2 * DAY);
    await agent.post('/set?x=1').expect(200);
    await agent.post('/regenerate').expect(200);
    const res = await agent.get('/ends').expect(200);
    expect(res.body.userId).to.equal('rolf');
    expect(res.body.expiresAt - Date.now()).to.be.within(2 * DAY - 5_000, 2 * DAY);
    expect(await sessionTtl(t, 'rolf')).to.be.within(2 * DAY - 5_000, 2 * DAY);
  });

  it("'session' gives a browser-session cookie, bounded in the store by browserSessionTtl", async () => {
    const t = makeApp({ maxAge: DAY, browserSessionTtl: 2 * HOUR }, routes);
    const res = await t.agent().post('/remember?user=sam&maxAge=session').expect(200);
    expect(cookieExpiry(res)).to.equal(undefined);
    expect(await sessionTtl(t, 'sam')).to.be.within(2 * HOUR - 5_000, 2 * HOUR);
  });

  it("koa-session's ctx.session.maxAge is honoured by the cookie and the store", async () => {
    const t = makeApp({ maxAge: DAY }, routes);
    const agent = t.agent();
    await agent.post('/login?user=tia').expect(200);
    const res = await agent.post(`/shorten?maxAge=${HOUR}`).expect(200);
    expect(cookieExpiry(res)! - Date.now()).to.be.within(HOUR - 5_000, HOUR + 1_000);
    expect(await sessionTtl(t, 'tia')).to.be.within(HOUR - 5_000, HOUR);
    expect((await agent.get('/whoami')).body.userId).to.equal('tia');
  });

  it('stores the lifetime only when it is not the default: koa-session reads the same maxAge either way', async () => {
    const t = makeApp(
      { maxAge: DAY },
      {
        ...routes,
        'GET /max-age': (ctx: Context) => {
          ctx.state.maxAge = ctx.session!.maxAge;
        },
      },
    );
    const usual = t.agent();
    await usual.post('/login?user=uma').expect(200);
    await usual.post('/set?x=1').expect(200);
    const remembered = t.agent();
    await remembered.post(`/remember?user=ula&maxAge=${30 * DAY}`).expect(200);
    const stored = async (user: string) => {
      const tag = Buffer.from(user).toString('base64url');
      const [key] = (await allKeys(t.redis, `sess:{${tag}}:*:*`)).filter((k) => !/:[xm]:/.test(k));
      return (await t.redis.get(key!))!;
    };
    expect(await stored('uma')).to.not.include('_maxAge');
    expect(await stored('ula')).to.include(`"_maxAge":${30 * DAY}`);
    expect((await usual.get('/max-age').expect(200)).body.maxAge).to.equal(DAY);
    expect((await remembered.get('/max-age').expect(200)).body.maxAge).to.equal(30 * DAY);
    // A rolling save of the compact value keeps the session and its default lifetime.
    const res = await usual.post('/set?x=2').expect(200);
    expect(cookieExpiry(res)! - Date.now()).to.be.within(DAY - 5_000, DAY + 1_000);
    expect((await usual.get('/whoami')).body).to.deep.include({ userId: 'uma', data: { x: '2' } });
  });

  it('refuses a maxAge that is not a whole number of ms or "session"', async () => {
    const t = makeApp({}, routes);
    for (const bad of ['0', '-5', '1.5', 'NaN']) {
      const res = await t.agent().post(`/remember?user=uma&maxAge=${bad}`);
      expect(res.status, bad).to.equal(500);
      expect(res.body.message).to.match(/login\(\) maxAge must be/);
    }
    expect(cookieValue(await t.agent().post('/login?user=uma'))).to.be.a('string');
  });
});
