// Attack review of e73ce5d / 7da20aa: an unchanged rolling save no longer re-sends the cookie, and a
// refused save sends no cookie at all. Each probe drives the app with a small model of the browser's
// cookie jar, so that lost responses, response order between tabs and browser restarts are explicit.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import Koa, { type Context } from 'koa';
import supertest from 'supertest';
import { createSessions } from '../../lib/index.js';
import {
  APP_KEYS,
  closeClients,
  Gate,
  makeApp,
  newRedis,
  setCookieLines,
  type TestApp,
} from '../support/app.js';
import { allKeys } from '../support/redis-view.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tag = (id: string) => Buffer.from(id).toString('base64url');

type Res = { headers: Record<string, unknown>; body: Record<string, unknown> };

function linesFor(res: Res, name: string): string[] {
  return setCookieLines(res).filter((line) => line.startsWith(`${name}=`));
}

/** A browser's cookie jar, reduced to what matters here: value and expiry (undefined: browser session). */
class Jar {
  readonly cookies = new Map<string, { value: string; expires: number | undefined; line: string }>();

  absorb(res: Res): Res {
    for (const line of setCookieLines(res)) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const expiresAttr = attrs.find((a) => /^expires=/i.test(a));
      const expires = expiresAttr ? Date.parse(expiresAttr.slice(8)) : undefined;
      if (value === '' || (expires !== undefined && expires <= Date.now())) this.cookies.delete(name);
      else this.cookies.set(name, { value, expires, line });
    }
    return res;
  }

  header(): string {
    const now = Date.now();
    return [...this.cookies]
      .filter(([, c]) => c.expires === undefined || c.expires > now)
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  /** The browser closes: its session cookies go. */
  restart(): void {
    for (const [name, c] of this.cookies) if (c.expires === undefined) this.cookies.delete(name);
  }
}

function request(app: Koa, jar: Jar, method: 'get' | 'post', path: string) {
  const req = supertest(app.callback())[method](path);
  const cookie = jar.header();
  return cookie ? req.set('Cookie', cookie) : req;
}

async function storedEnd(redis: Redis, user: string): Promise<number> {
  const keys = (await allKeys(redis, `sess:{${tag(user)}}:*:*`)).filter((k) => !/:[xm]:/.test(k));
  expect(keys, 'one stored session').to.have.length(1);
  return Number.parseInt((await redis.get(keys[0]!))!.slice(0, 9), 36);
}

/** Starts a held request (reads the session, waits at the gate, then `then`), with the jar's cookies now. */
async function hold(t: TestApp, jar: Jar, then: string, name = 'g') {
  const gate = new Gate();
  t.gates.set(name, gate);
  const held = request(t.app, jar, 'post', `/hold?gate=${name}&then=${then}`).then(
    (r) => r as unknown as Res,
  );
  await gate.arrived;
  return { gate, held };
}

describe('attack: rolling cookie not re-sent, refused save sends no cookie (e73ce5d, 7da20aa)', () => {
  afterEach(closeClients);

  // ---------------------------------------------------------------------------------------------
  // Change 1: unchanged rolling save, no Set-Cookie
  // ---------------------------------------------------------------------------------------------

  it('P1 rolling, inside the touch window: no Set-Cookie, and the jar still ends with the store', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p1').expect(200));
    const res = jar.absorb(await request(t.app, jar, 'get', '/whoami').expect(200));
    expect(res.body.userId).to.equal('p1');
    expect(setCookieLines(res)).to.deep.equal([]);
    const end = await storedEnd(t.redis, 'p1');
    expect(jar.cookies.get('sid')!.expires! - end).to.be.within(0, 1000);
    expect(jar.cookies.get('sid.sig')!.expires).to.equal(jar.cookies.get('sid')!.expires);
  });

  it('P2 rolling + absoluteMaxAge: a touch whose response Koa drops (an uncaught 500) reaches the cap; later requests re-send the capped cookie, so the browser keeps it until the store ends the session', async () => {
    // An app that leaves errors to Koa's default handler (which removes every header).
    const redis = newRedis();
    const app = new Koa();
    app.keys = APP_KEYS;
    app.silent = true;
    const sessions = createSessions(app, { redis, rolling: true, maxAge: 6_000, absoluteMaxAge: 10_000 });
    app.use(sessions.middleware);
    app.use(async (ctx: Context) => {
      if (ctx.path === '/login') await sessions.login(ctx, 'p2');
      if (ctx.path === '/boom') ctx.throw(500, 'boom');
      ctx.body = { userId: sessions.userId(ctx) ?? null };
    });
    const jar = new Jar();
    jar.absorb(await request(app, jar, 'post', '/login').expect(200));
    const loginCookieEnd = jar.cookies.get('sid')!.expires!;
    await sleep(4_500);
    // now + maxAge passes login + absoluteMaxAge: this touch writes the capped end; its cookie is lost.
    const boom = jar.absorb(await request(app, jar, 'get', '/boom').expect(500));
    expect(setCookieLines(boom as Res), 'Koa dropped the headers of the error response').to.deep.equal([]);
    const cap = await storedEnd(redis, 'p2');
    // A busy user: a request every 300 ms. Each one is a rolling save of unchanged data.
    const resent: string[] = [];
    for (let i = 0; i < 4; i++) {
      await sleep(300);
      const res = jar.absorb((await request(app, jar, 'get', '/whoami').expect(200)) as unknown as Res);
      expect(res.body.userId).to.equal('p2');
      resent.push(...linesFor(res, 'sid'));
    }
    const jarEnd = jar.cookies.get('sid')!.expires!;
    expect(
      jarEnd,
      `browser cookie ends ${cap - jarEnd} ms before the store's session (login cookie end ${loginCookieEnd}, cap ${cap}); re-sent lines: ${resent.length}`,
    ).to.be.at.least(cap - 1_000);
  });

  it('P5 signed in, rolling, inside the window: ctx.session = null then the same data signs out (new anonymous cookie)', async () => {
    const t = makeApp(
      { rolling: true, maxAge: 60_000 },
      {
        'POST /null-same': (ctx) => {
          const data = ctx.session!.toJSON();
          ctx.session = null;
          ctx.session = data;
        },
      },
    );
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p5').expect(200));
    jar.absorb(await request(t.app, jar, 'post', '/set?x=1').expect(200));
    const old = jar.header();
    const res = jar.absorb(await request(t.app, jar, 'post', '/null-same').expect(200));
    expect(res.body.userId).to.equal(null);
    expect(linesFor(res, 'sid'), 'a new cookie').to.have.length(1);
    const after = await request(t.app, jar, 'get', '/whoami').expect(200);
    expect(after.body.userId).to.equal(null);
    const replay = await supertest(t.app.callback()).get('/whoami').set('Cookie', old).expect(200);
    expect(replay.body.userId, 'the old cookie is dead').to.equal(null);
  });

  it('P6 a forced unchanged save (skipped) then logout in the same request: the cookie is cleared, the old one is dead', async () => {
    const t = makeApp(
      { rolling: true, maxAge: 60_000, companionCookie: 'sid_expires' },
      {
        'POST /save-logout': async (ctx, app) => {
          await ctx.session!.save();
          await app.sessions.logout(ctx);
        },
      },
    );
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p6').expect(200));
    const old = jar.header();
    const res = jar.absorb(await request(t.app, jar, 'post', '/save-logout').expect(200));
    expect(linesFor(res, 'sid')[0]).to.match(/^sid=;/);
    expect(linesFor(res, 'sid_expires')[0]).to.match(/^sid_expires=;/);
    expect(jar.cookies.has('sid')).to.equal(false);
    const replay = await supertest(t.app.callback()).get('/whoami').set('Cookie', old).expect(200);
    expect(replay.body.userId).to.equal(null);
  });

  it('P7 regenerate inside the touch window (unchanged data): new cookie with expiry, old one dead', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p7').expect(200));
    const old = jar.header();
    const res = jar.absorb(await request(t.app, jar, 'post', '/regenerate').expect(200));
    expect(res.body.userId).to.equal('p7');
    expect(linesFor(res, 'sid')[0]).to.match(/expires=/i);
    expect(linesFor(res, 'sid.sig')[0]).to.match(/expires=/i);
    expect((await request(t.app, jar, 'get', '/whoami').expect(200)).body.userId).to.equal('p7');
    const replay = await supertest(t.app.callback()).get('/whoami').set('Cookie', old).expect(200);
    expect(replay.body.userId).to.equal(null);
  });

  it('P8 remember-me login({ maxAge }) + rolling: skipped saves keep the long expiry; a later touch re-sends it', async () => {
    const HOUR = 3_600_000;
    const t = makeApp(
      { rolling: true, maxAge: HOUR },
      {
        'POST /remember': async (ctx, app) => {
          await app.sessions.login(ctx, 'p8', { maxAge: 48 * HOUR });
        },
      },
    );
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/remember').expect(200));
    const inside = jar.absorb(await request(t.app, jar, 'get', '/whoami').expect(200));
    expect(setCookieLines(inside)).to.deep.equal([]);
    expect(jar.cookies.get('sid')!.expires! - Date.now()).to.be.above(47 * HOUR);
    await sleep(1_100);
    const later = jar.absorb(await request(t.app, jar, 'get', '/whoami').expect(200));
    expect(linesFor(later, 'sid')).to.have.length(1);
    expect(jar.cookies.get('sid')!.expires! - Date.now()).to.be.above(47 * HOUR);
    expect(Math.abs(jar.cookies.get('sid')!.expires! - (await storedEnd(t.redis, 'p8')))).to.be.below(1_000);
  });

  it("P9 login({ maxAge: 'session' }) + rolling: skipped and written saves both keep a browser-session cookie", async () => {
    const t = makeApp(
      { rolling: true, maxAge: 60_000 },
      {
        'POST /session-login': async (ctx, app) => {
          await app.sessions.login(ctx, 'p9', { maxAge: 'session' });
        },
      },
    );
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/session-login').expect(200));
    expect(jar.cookies.get('sid')!.expires).to.equal(undefined);
    const inside = jar.absorb(await request(t.app, jar, 'get', '/whoami').expect(200));
    expect(setCookieLines(inside)).to.deep.equal([]);
    await sleep(1_100);
    const later = jar.absorb(await request(t.app, jar, 'post', '/set?y=2').expect(200));
    expect(linesFor(later, 'sid')[0]).to.not.match(/expires=/i);
    jar.restart();
    expect((await request(t.app, jar, 'get', '/whoami').expect(200)).body.userId).to.equal(null);
  });

  it('P11 two tabs: tab B regenerates while tab A holds an unchanged rolling save: A sends nothing, B’s cookie stays', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p11').expect(200));
    const { gate, held } = await hold(t, jar, 'none');
    jar.absorb(await request(t.app, jar, 'post', '/regenerate').expect(200));
    gate.release();
    const late = jar.absorb(await held);
    expect(linesFor(late, 'sid')).to.deep.equal([]);
    expect((await request(t.app, jar, 'get', '/whoami').expect(200)).body.userId).to.equal('p11');
  });

  it('P17 two tabs: tab B logs out while tab A holds an unchanged rolling save: A sends nothing, the browser stays signed out', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p17').expect(200));
    const { gate, held } = await hold(t, jar, 'none');
    const out = jar.absorb(await request(t.app, jar, 'post', '/logout').expect(200));
    expect(out.body.userId).to.equal(null);
    gate.release();
    const late = jar.absorb(await held);
    expect(linesFor(late, 'sid'), 'the late rolling response re-sends nothing').to.deep.equal([]);
    expect((await request(t.app, jar, 'get', '/whoami').expect(200)).body.userId).to.equal(null);
  });

  it('P13 companion follows the session cookie through skipped and written rolling saves', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000, companionCookie: 'sid_expires' });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p13').expect(200));
    const inside = jar.absorb(await request(t.app, jar, 'get', '/whoami').expect(200));
    expect(setCookieLines(inside)).to.deep.equal([]);
    await sleep(1_100);
    jar.absorb(await request(t.app, jar, 'get', '/whoami').expect(200));
    const end = await storedEnd(t.redis, 'p13');
    expect(Number(jar.cookies.get('sid_expires')!.value)).to.equal(end);
    expect(jar.cookies.get('sid_expires')!.expires).to.equal(jar.cookies.get('sid')!.expires);
  });

  // ---------------------------------------------------------------------------------------------
  // Change 2: refused save, no Set-Cookie
  // ---------------------------------------------------------------------------------------------

  it('P3 after an app.keys rotation, tab B regenerates while tab A’s save is refused: B’s newer cookie stays (no bare re-signed .sig)', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p3').expect(200));
    // A deploy puts a new signing key first; the browser's cookie is signed under the old one.
    t.app.keys = ['a-newer-signing-key', ...APP_KEYS];
    const { gate, held } = await hold(t, jar, 'set');
    const b = jar.absorb(await request(t.app, jar, 'post', '/regenerate').expect(200));
    expect(b.body.userId).to.equal('p3');
    gate.release();
    const late = jar.absorb(await held);
    const after = await request(t.app, jar, 'get', '/whoami').expect(200);
    expect(
      after.body.userId,
      `tab B's cookie survives tab A's refused save; A's response sent: ${JSON.stringify(setCookieLines(late))}`,
    ).to.equal('p3');
  });

  it('P4 companion: tab A’s save is refused at absoluteMaxAge after tab B signed in again; A leaves both B’s cookie and B’s companion', async () => {
    const t = makeApp({ rolling: true, absoluteMaxAge: 1_500, companionCookie: 'sid_expires' });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p4').expect(200));
    const { gate, held } = await hold(t, jar, 'set');
    await sleep(1_600);
    // Tab B: the session ran out, the user signs in again.
    const b = jar.absorb(await request(t.app, jar, 'post', '/login?user=p4').expect(200));
    expect(linesFor(b, 'sid_expires')).to.have.length(1);
    gate.release();
    const late = jar.absorb(await held);
    const after = await request(t.app, jar, 'get', '/whoami').expect(200);
    expect(after.body.userId, 'B’s session is live').to.equal('p4');
    expect(
      jar.cookies.has('sid_expires'),
      `signed in, so the companion must be there; A's response sent: ${JSON.stringify(setCookieLines(late).map((l) => l.split(';')[0]))}`,
    ).to.equal(true);
  });

  it('P12 rotate while a request holds the session, then it regenerates: nothing sent, the next request hears why, no data carried', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000, companionCookie: 'sid_expires' });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p12').expect(200));
    jar.absorb(await request(t.app, jar, 'post', '/set?secret=s3').expect(200));
    const old = jar.header();
    const { gate, held } = await hold(t, jar, 'regenerate');
    await t.sessions.rotate('p12', { reason: 'password-changed' });
    gate.release();
    const late = jar.absorb(await held);
    // koa-session's regenerate() cleared the cookie itself (remove()) before the refused re-key;
    // the store takes that back too: the browser keeps its cookie, and hears why next time.
    expect(linesFor(late, 'sid')).to.deep.equal([]);
    const after = jar.absorb(await request(t.app, jar, 'get', '/whoami').expect(200));
    expect(after.body.revoked).to.equal('password-changed');
    expect(after.body.userId).to.equal(null);
    expect(JSON.stringify(after.body)).to.not.include('s3');
    expect(jar.cookies.has('sid_expires'), 'companion cleared').to.equal(false);
    const replay = await supertest(t.app.callback()).post('/set?z=1').set('Cookie', old).expect(200);
    expect(replay.body.userId).to.equal(null);
    expect(JSON.stringify(replay.body)).to.not.include('s3');
  });

  it('P14 attacker: after a refused save the victim’s tab is signed out and logging in again issues a fresh sid (no pinning)', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p14').expect(200));
    const { gate, held } = await hold(t, jar, 'set');
    await t.sessions.rotate('p14');
    gate.release();
    jar.absorb(await held);
    const dead = jar.cookies.get('sid')!.value;
    const relog = jar.absorb(await request(t.app, jar, 'post', '/login?user=p14').expect(200));
    expect(relog.body.userId).to.equal('p14');
    expect(jar.cookies.get('sid')!.value).to.not.equal(dead);
  });

  it('P15 two tabs: tab B regenerates while tab A’s regenerate is held: A’s refused regenerate takes back koa-session’s clearing, so B’s newer cookie stays', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p15').expect(200));
    const { gate, held } = await hold(t, jar, 'regenerate');
    jar.absorb(await request(t.app, jar, 'post', '/regenerate').expect(200));
    gate.release();
    const late = jar.absorb(await held);
    const after = await request(t.app, jar, 'get', '/whoami').expect(200);
    expect(
      after.body.userId,
      `tab B's cookie survives tab A's refused regenerate; A's response sent: ${JSON.stringify(setCookieLines(late).map((l) => l.split(';')[0]))}`,
    ).to.equal('p15');
  });

  it('P16 two tabs: tab B logs out and signs in as another user while tab A’s change of the old session is held: B’s new user stays (no sign-out), A’s data went nowhere', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const jar = new Jar();
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p16a').expect(200));
    const { gate, held } = await hold(t, jar, 'set');
    jar.absorb(await request(t.app, jar, 'post', '/logout').expect(200));
    jar.absorb(await request(t.app, jar, 'post', '/login?user=p16b').expect(200));
    gate.release();
    const late = jar.absorb(await held);
    expect(linesFor(late, 'sid')).to.deep.equal([]);
    const after = await request(t.app, jar, 'get', '/whoami').expect(200);
    expect(after.body.userId).to.equal('p16b');
    expect(JSON.stringify(after.body)).to.not.include('written after the revocation');
  });
});
