// Attack on the implied lifetime: the stored JSON leaves out _maxAge / _session when it equals the app's maxAge option.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, makeApp, newRedis, type TestApp } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';
import { captured } from '../support/replay.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const routes = {
  'POST /put': (ctx: Context) => {
    ctx.session!.v = JSON.parse(String(ctx.query.json));
  },
  'GET /lifetime': (ctx: Context, t: TestApp) => {
    ctx.state.maxAge = ctx.session!.maxAge ?? null;
    ctx.state.expiresAt = t.sessions.expiresAt(ctx)?.getTime() ?? null;
  },
  'POST /touch': (ctx: Context) => {
    ctx.session!.n = Number(ctx.session!.n ?? 0) + 1;
  },
};

function cookieExpiry(res: { headers: Record<string, unknown> }): number | undefined {
  const line = ((res.headers['set-cookie'] as string[]) ?? []).find((c) => c.startsWith('sid='));
  const expires = line && /expires=([^;]+)/i.exec(line)?.[1];
  return expires ? Date.parse(expires) : undefined;
}

async function storedValue(t: TestApp, user: string): Promise<string> {
  const tag = Buffer.from(user).toString('base64url');
  const [key] = (await allKeys(t.redis, `sess:{${tag}}:*:*`)).filter((k) => !/:[xml]:/.test(k));
  return (await t.redis.get(key!))!;
}

describe('attack: the implied maxAge (stored JSON without the default lifetime)', () => {
  afterEach(closeClients);

  it("a browser-session sign-in (the app's maxAge 'session') stays a browser-session cookie after a deploy changes the default to 1 hour", async () => {
    const redis = newRedis();
    const before = makeApp({ maxAge: 'session', redis }, routes);
    const cookie = captured(await before.agent().post('/login?user=sara').expect(200))!;
    // The user never asked to be remembered; koa-session saved _session: true.
    const after = makeApp({ maxAge: HOUR, redis }, routes);
    const res = await after.agent().post('/touch').set('Cookie', cookie).expect(200);
    expect(res.body.userId).to.equal('sara');
    expect(cookieExpiry(res), 'the cookie issued after the deploy has no Expires (browser session)').to.equal(
      undefined,
    );
  });

  // Decided (docs/design.md, "The stored value"): a session saved with the app's default lifetime
  // follows the default, also after a deploy changes it; a chosen lifetime or 'session' stays.
  it('a session saved with the default lifetime follows the new default after a deploy; a remembered one keeps its own', async () => {
    const redis = newRedis();
    const before = makeApp({ maxAge: HOUR, redis, rolling: true }, routes);
    const cookie = captured(await before.agent().post('/login?user=hal').expect(200))!;
    const after = makeApp({ maxAge: 30 * DAY, redis, rolling: true }, routes);
    const res = await after.agent().post('/touch').set('Cookie', cookie).expect(200);
    expect(res.body.userId).to.equal('hal');
    const ends = (
      await after
        .agent()
        .get('/lifetime')
        .set('Cookie', captured(res) ?? cookie)
    ).body.expiresAt;
    expect(ends - Date.now(), 'the default session now lives by the new default').to.be.greaterThan(29 * DAY);
    const chosen = makeApp(
      { maxAge: HOUR, redis, rolling: true },
      {
        ...routes,
        'POST /remember': async (ctx: Context, tt: TestApp) => {
          await tt.sessions.login(ctx, String(ctx.query.user), { maxAge: 2 * HOUR });
        },
      },
    );
    const kept = captured(await chosen.agent().post('/remember?user=hil').expect(200))!;
    const later = makeApp({ maxAge: 30 * DAY, redis, rolling: true }, routes);
    const touched = await later.agent().post('/touch').set('Cookie', kept).expect(200);
    const end = (
      await later
        .agent()
        .get('/lifetime')
        .set('Cookie', captured(touched) ?? kept)
    ).body.expiresAt;
    expect(end - Date.now(), 'a chosen lifetime is stored, and kept').to.be.at.most(2 * HOUR);
  });

  it('probe: look-alike keys and strings in user data round-trip exactly, with and without a remembered lifetime', async () => {
    const t = makeApp(
      { maxAge: HOUR },
      {
        ...routes,
        'POST /remember': async (ctx: Context, tt: TestApp) => {
          await tt.sessions.login(ctx, String(ctx.query.user), { maxAge: Number(ctx.query.maxAge) });
        },
      },
    );
    const samples: unknown[] = [
      { _maxAge: 5, _expire: 1, _session: true },
      { a: { _maxAge: HOUR } },
      '","_maxAge":3600000}',
      ',"_session":true}',
      '{"_expire":1,"_maxAge":3600000}',
      [{ _maxAge: HOUR }],
      { '1': 'x', _maxAge: HOUR },
      HOUR,
      null,
    ];
    for (const [i, sample] of samples.entries()) {
      for (const remember of [false, true]) {
        const agent = t.agent();
        const user = `u${i}${remember ? 'r' : ''}`;
        if (remember) await agent.post(`/remember?user=${user}&maxAge=${2 * HOUR}`).expect(200);
        else await agent.post(`/login?user=${user}`).expect(200);
        await agent.post(`/put?json=${encodeURIComponent(JSON.stringify(sample))}`).expect(200);
        const read = await agent.get('/lifetime').expect(200);
        expect(read.body.data.v, `${user}: data`).to.deep.equal(sample);
        expect(read.body.maxAge, `${user}: lifetime`).to.equal(remember ? 2 * HOUR : HOUR);
        const value = await storedValue(t, user);
        expect(value.includes(`"_maxAge":${2 * HOUR}`), `${user}: stored lifetime`).to.equal(remember);
      }
    }
  });
});
