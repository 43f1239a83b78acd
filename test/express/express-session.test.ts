// express-session's own pitfalls under the epoch store: ending then writing, destroy, resave, saveUninitialized, rolling, "remember me", touch.
import { expect } from 'chai';
import type { Request } from 'express';
import { HORIZON_STEP, horizon } from '../../lib/core/horizon.js';
import { createExpressSessions } from '../../lib/express/index.js';
import { allKeys, watchCommands } from '../support/redis-view.js';
import {
  captured,
  closeClients,
  cookieValue,
  type ExpressTestApp,
  type Handler,
  liveSessionKeys,
  makeExpressApp,
  replay,
  signedCookie,
  signedInAs,
} from './support.js';

const FLASH = 'signed out';
const save = (req: Request) =>
  new Promise<void>((resolve, reject) => req.session.save((error) => (error ? reject(error) : resolve())));
const destroy = (req: Request) =>
  new Promise<void>((resolve, reject) => req.session.destroy((error) => (error ? reject(error) : resolve())));

const routes: Record<string, Handler> = {
  'POST /logout-flash': async (req, _res, t) => {
    const held = req.session;
    await t.sessions.logout(req);
    (req.session as any).flash = FLASH;
    (held as any).late = 'written to the object held before the logout';
  },
  'POST /destroy-then-write': async (req, res, t) => {
    const held = req.session;
    await destroy(req);
    res.locals.after = { session: req.session ?? null, userId: t.sessions.userId(req) ?? null };
    (held as any).late = 'written after destroy';
    await new Promise<void>((resolve) => held.save(() => resolve()));
  },
  'POST /destroy-then-login': async (req, res, t) => {
    await destroy(req);
    res.locals.login = await t.sessions.login(req, String(req.query.user));
  },
  'POST /null-then-login': async (req, res, t) => {
    (req as any).session = null;
    res.locals.login = await t.sessions.login(req, String(req.query.user));
  },
  'POST /null': (req) => {
    (req as any).session = null;
  },
  'POST /write-foreign': async (req, res) => {
    // A store call the app makes by hand, outside express-session, with a key this request never read.
    const key = String(req.query.key);
    const found = await new Promise((resolve) => req.sessionStore.get(key, (_e, s) => resolve(s ?? null)));
    res.locals.found = found !== null;
    (req.session as any).stolen = 'overwritten';
    res.locals.error = await new Promise((resolve) =>
      req.sessionStore.set(key, req.session, (error) => resolve(error ? String(error) : null)),
    );
  },
  'POST /write-plain': async (req, res) => {
    res.locals.error = await new Promise((resolve) =>
      req.sessionStore.set(String(req.query.key), { cookie: {} } as any, (error) =>
        resolve(error ? String((error as Error).message) : null),
      ),
    );
  },
  'POST /regenerate-then': async (req, res, t) => {
    const then = String(req.query.then);
    const regenerate = () =>
      new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
    await regenerate();
    res.locals.during = t.sessions.userId(req) ?? null;
    if (then === 'again') await regenerate();
    if (then === 'destroy') await destroy(req);
    if (then === 'logout') await t.sessions.logout(req);
    if (then === 'login') res.locals.login = await t.sessions.login(req, 'zed');
    if (then === 'others') res.locals.kept = await t.sessions.logoutOthers(req);
  },
  'POST /save-twice': async (req) => {
    (req.session as any).a = 1;
    await save(req);
    (req.session as any).b = 2;
  },
};

async function signIn(t: ExpressTestApp, user: string, secret: string) {
  const agent = t.agent();
  const login = await agent.post(`/login?user=${user}`).expect(200);
  const set = await agent.post(`/set?secret=${secret}`).expect(200);
  const cookie = captured(set) ?? captured(login);
  expect(await signedInAs(t, cookie!)).to.equal(user);
  return { agent, cookie: cookie!, value: cookieValue(login)! };
}

describe('express-session pitfalls: ending a session, then writing in the same request', () => {
  afterEach(closeClients);

  for (const [label, config] of [
    ['', {}],
    [' (registry, rolling, resave)', { registry: true, rolling: true, resave: true }],
  ] as const) {
    it(`logout then req.session.flash = … puts the flash in a new anonymous session under a new cookie; no cookie reaches the ended session${label}`, async () => {
      const t = makeExpressApp(config, routes);
      const alice = await signIn(t, 'alice', 'alice-secret-1');
      const out = await t.agent().post('/logout-flash').set('Cookie', alice.cookie).expect(200);
      expect(out.body.userId).to.equal(null);
      const stolen = await replay(t, alice.cookie);
      expect(stolen.userId).to.equal(null);
      expect(JSON.stringify(stolen.body)).to.not.include('alice-secret-1');
      const flashCookie = captured(out);
      expect(flashCookie, 'the flash needs a cookie').to.be.a('string');
      expect(cookieValue(out)).to.not.equal(alice.value);
      const next = await replay(t, flashCookie!);
      expect(next).to.deep.include({ userId: null, data: { flash: FLASH } });
      expect(await liveSessionKeys(t)).to.deep.equal([]);
    });
  }

  it('logout with nothing written after it clears the cookie and stores nothing', async () => {
    const t = makeExpressApp();
    const alice = await signIn(t, 'alice', 'x');
    const out = await t.agent().post('/logout').set('Cookie', alice.cookie).expect(200);
    expect(String(out.headers['set-cookie'])).to.match(/^sid=; Path=\/; Expires=Thu, 01 Jan 1970/);
    expect(await allKeys(t.redis, 'sess:a:*')).to.deep.equal([]);
    expect(await liveSessionKeys(t)).to.deep.equal([]);
  });

  it('req.session.destroy() then a write to the object held before: nothing is written, the cookie is cleared, the user is signed out', async () => {
    const t = makeExpressApp({}, routes);
    const alice = await signIn(t, 'alice', 'alice-secret-2');
    const res = await t.agent().post('/destroy-then-write').set('Cookie', alice.cookie).expect(200);
    expect(res.body.after).to.deep.equal({ session: null, userId: null });
    expect(String(res.headers['set-cookie'])).to.match(/^sid=; /);
    expect(await signedInAs(t, alice.cookie)).to.equal(null);
    expect(await liveSessionKeys(t)).to.deep.equal([]);
    expect(await allKeys(t.redis, 'sess:a:*')).to.deep.equal([]);
  });

  for (const [route, how] of [
    ['/destroy-then-login', 'req.session.destroy()'],
    ['/null-then-login', 'req.session = null'],
  ] as const) {
    for (const user of ['bob', 'alice']) {
      it(`${how} then login(req, '${user}') ends the session alice presented`, async () => {
        const t = makeExpressApp({ registry: true }, routes);
        const alice = await signIn(t, 'alice', 'alice-secret-3');
        const res = await t.agent().post(`${route}?user=${user}`).set('Cookie', alice.cookie).expect(200);
        expect(res.body).to.deep.include({ userId: user, data: {} });
        expect(await signedInAs(t, captured(res)!)).to.equal(user);
        expect(await signedInAs(t, alice.cookie)).to.equal(null);
        expect(await t.sessions.list('alice')).to.have.length(user === 'alice' ? 1 : 0);
      });
    }
  }

  it("unset: 'destroy' with req.session = null ends the session and clears the cookie", async () => {
    const t = makeExpressApp({ unset: 'destroy' }, routes);
    const alice = await signIn(t, 'alice', 'x');
    const res = await t.agent().post('/null').set('Cookie', alice.cookie).expect(200);
    expect(String(res.headers['set-cookie'])).to.match(/^sid=; /);
    expect(await signedInAs(t, alice.cookie)).to.equal(null);
    expect(await liveSessionKeys(t)).to.deep.equal([]);
  });

  it("unset: 'keep' (the default) with req.session = null signs the request out but keeps the stored session", async () => {
    const t = makeExpressApp({}, routes);
    const alice = await signIn(t, 'alice', 'x');
    const res = await t.agent().post('/null').set('Cookie', alice.cookie).expect(200);
    expect(res.body.userId).to.equal(null);
    expect(await signedInAs(t, alice.cookie)).to.equal('alice');
  });
});

describe('express-session pitfalls: regenerate() of a signed-in session, then more in the same request', () => {
  afterEach(closeClients);

  for (const [then, user, live] of [
    ['none', 'alice', 1],
    ['again', 'alice', 1],
    ['destroy', null, 0],
    ['logout', null, 0],
    ['login', 'zed', 1],
    ['others', 'alice', 1],
  ] as const) {
    it(`regenerate() then ${then}: the user is ${user ?? 'signed out'}, the old cookie reaches nothing, ${live} live session(s)`, async () => {
      const t = makeExpressApp({}, routes);
      const alice = await signIn(t, 'alice', 'regen-secret');
      const res = await t
        .agent()
        .post(`/regenerate-then?then=${then}`)
        .set('Cookie', alice.cookie)
        .expect(200);
      expect(res.body.during, 'still signed in between regenerate() and its write').to.equal('alice');
      expect(res.body.userId).to.equal(user);
      expect(await signedInAs(t, alice.cookie)).to.equal(null);
      const next = captured(res);
      if (user) expect(await signedInAs(t, next!)).to.equal(user);
      else if (next) expect(await signedInAs(t, next)).to.equal(null);
      expect(await liveSessionKeys(t)).to.have.length(live);
    });
  }
});

describe('express-session pitfalls: a request writes only what it read or created', () => {
  afterEach(closeClients);

  it("a store.get/set the app makes by hand with another session's key never overwrites it", async () => {
    const t = makeExpressApp({}, routes);
    const victim = await signIn(t, 'victim', 'victim-secret');
    const before = await liveSessionKeys(t);
    const stored = await t.redis.get(before[0]!);
    for (const cookie of [undefined, (await signIn(t, 'mallory', 'm')).cookie]) {
      const request = t.agent().post(`/write-foreign?key=${encodeURIComponent(victim.value)}`);
      const res = await (cookie ? request.set('Cookie', cookie) : request).expect(200);
      expect(res.body.found, 'the read itself works').to.equal(true);
    }
    expect(await t.redis.get(before[0]!)).to.equal(stored);
    expect((await replay(t, victim.cookie)).data).to.deep.equal({ secret: 'victim-secret' });
  });

  it('set() of a plain object (no request behind it) is refused with an error that says why', async () => {
    const t = makeExpressApp({}, routes);
    const res = await t.agent().post('/write-plain?key=x').expect(200);
    expect(res.body.error).to.match(/set\(\) needs the Session object express-session created/);
  });

  it('two requests presenting the same cookie keep separate state: a logout in one does not let the other write', async () => {
    const t = makeExpressApp({}, routes);
    const alice = await signIn(t, 'alice', 'shared');
    const [a, b] = await Promise.all([
      t.agent().post('/logout').set('Cookie', alice.cookie),
      t.agent().post('/set?late=1').set('Cookie', alice.cookie),
    ]);
    expect(a.body.userId).to.equal(null);
    expect([null, 'alice']).to.include(b.body.userId);
    expect(await signedInAs(t, alice.cookie)).to.equal(null);
    expect(await liveSessionKeys(t)).to.deep.equal([]);
  });

  it('an explicit save() then more data: both writes land on the same session', async () => {
    const t = makeExpressApp({}, routes);
    const agent = t.agent();
    await agent.post('/save-twice').expect(200);
    expect((await agent.get('/whoami')).body.data).to.deep.equal({ a: 1, b: 2 });
    await agent.post('/login?user=sue').expect(200);
    await agent.post('/save-twice').expect(200);
    expect((await agent.get('/whoami')).body).to.deep.include({ userId: 'sue', data: { a: 1, b: 2 } });
  });

  it('all(), length() and clear() are unsupported (they would scan the keyspace) and say so', async () => {
    const t = makeExpressApp();
    for (const method of ['all', 'length', 'clear'] as const) {
      const error = await new Promise<Error>((resolve) => (t.sessions.store[method] as any)(resolve));
      expect(error.message).to.match(new RegExp(`${method}\\(\\) is not supported: .*scan`));
    }
  });
});

describe('express-session options under the epoch store: resave, saveUninitialized, rolling, touch, "remember me"', () => {
  afterEach(closeClients);

  it('a signed-in read is one MGET (resave: false): express-session calls touch, the store writes nothing', async () => {
    const t = makeExpressApp();
    const agent = t.agent();
    await agent.post('/login?user=amy').expect(200);
    const monitor = await watchCommands(t.redis);
    const started = Date.now();
    for (let i = 0; i < 10; i++) await agent.get('/whoami').expect(200);
    const elapsed = Date.now() - started;
    const sent = (await monitor.stop()).map((c) => c.name).filter((name) => name !== 'cluster');
    expect(sent.filter((name) => name === 'mget')).to.have.length(10);
    // The touch is skipped within 1 s of the stored expiry: on a slow run, one touch per second at most.
    const touches = sent.filter((name) => name === 'set').length;
    expect(touches).to.be.at.most(Math.floor(elapsed / 1000));
    expect(sent.filter((name) => !['mget', 'set', 'pexpire'].includes(name))).to.deep.equal([]);
  });

  for (const crossing of [false, true]) {
    it(`a due touch rewrites only the expiry (SET … XX)${crossing ? ', and extends the epoch key (PEXPIRE … GT) when it ends in a later horizon step' : ' and nothing else when it ends in the same horizon step'}`, async () => {
      const t = makeExpressApp({ maxAge: 60_000 });
      const agent = t.agent();
      await agent.post('/login?user=ben').expect(200);
      await agent.post('/set?a=1').expect(200);
      const [key] = await liveSessionKeys(t);
      const epochKey = key!.replace(/:[^:]+:[^:]+$/, ':e');
      const before = (await t.redis.get(key!))!;
      // The touch ends in [soonest, soonest + 500]. Store an end a step boundary before it
      // (crossing), or 0.7 s to 30 s before it in the same step; wait out moments that allow neither.
      let stored: number | undefined;
      for (let tries = 0; stored === undefined; tries++) {
        expect(tries).to.be.below(5);
        const soonest = Date.now() + 60_000;
        const boundary = Math.floor(soonest / HORIZON_STEP) * HORIZON_STEP;
        const same = Math.max(horizon(soonest + 500) - HORIZON_STEP + 1, soonest - 30_000);
        if (crossing) stored = boundary - Date.now() >= 2_000 ? boundary : undefined;
        else stored = same <= soonest - 700 ? same : undefined;
        if (stored === undefined) await new Promise((resolve) => setTimeout(resolve, 1_500));
      }
      const now = Date.now();
      await t.redis.set(key!, stored.toString(36).padStart(9, '0') + before.slice(9), 'PX', stored - now);
      await t.redis.pexpire(epochKey, horizon(stored) - now, 'GT');
      const monitor = await watchCommands(t.redis);
      const res = await agent.get('/whoami').expect(200);
      const seen = (await monitor.stop()).filter((c) => c.source !== 'lua').map((c) => c.args.join(' '));
      const after = (await t.redis.get(key!))!;
      expect(after.slice(9)).to.equal(before.slice(9));
      expect(Number.parseInt(after.slice(0, 9), 36)).to.be.greaterThan(stored);
      expect(seen.some((line) => /^set .* xx$/i.test(line))).to.equal(true);
      expect(seen.some((line) => /^pexpire sess:\{[^}]+\}:e \d+ gt$/i.test(line))).to.equal(crossing);
      expect(
        seen.some((line) => /^(eval|evalsha) /i.test(line)),
        'no script',
      ).to.equal(false);
      expect(await t.redis.pttl(epochKey)).to.be.at.least(await t.redis.pttl(key!));
      expect(res.headers['set-cookie'], 'rolling is off: express-session sends no cookie').to.equal(
        undefined,
      );
    });
  }

  it('saveUninitialized: false stores nothing and sets no cookie for an empty visit; true stores an anonymous session', async () => {
    const lazy = makeExpressApp();
    const res = await lazy.agent().get('/whoami').expect(200);
    expect(res.headers['set-cookie']).to.equal(undefined);
    expect(await allKeys(lazy.redis, 'sess:*')).to.deep.equal([]);
    const eager = makeExpressApp({ saveUninitialized: true });
    const res2 = await eager.agent().get('/whoami').expect(200);
    expect(cookieValue(res2)).to.be.a('string');
    expect(await allKeys(eager.redis, 'sess:a:*')).to.have.length(1);
  });

  it('rolling sends the cookie on every response, ending when the stored session does', async () => {
    const t = makeExpressApp({ rolling: true, maxAge: 3_600_000 });
    const agent = t.agent();
    await agent.post('/login?user=cat').expect(200);
    const res = await agent.get('/whoami').expect(200);
    const expires = /Expires=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
    const [key] = await liveSessionKeys(t);
    const stored = Number.parseInt((await t.redis.get(key!))!.slice(0, 9), 36);
    const cookieEnd = new Date(expires!).getTime();
    expect(cookieEnd)
      .to.be.at.least(stored)
      .and.below(stored + 1000);
  });

  it('"remember me": req.session.cookie.maxAge alone is stored, re-sent as a cookie, and kept by later requests', async () => {
    const t = makeExpressApp({ maxAge: 3_600_000 });
    const agent = t.agent();
    await agent.post('/login?user=dan').expect(200);
    const month = 30 * 24 * 3_600_000;
    const res = await agent.post(`/remember?ms=${month}`).expect(200);
    const expires = /Expires=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
    expect(new Date(expires!).getTime()).to.be.closeTo(Date.now() + month, 5_000);
    const [key] = await liveSessionKeys(t);
    expect(await t.redis.pttl(key!)).to.be.closeTo(month, 5_000);
    await agent.post('/set?x=1').expect(200);
    expect(await t.redis.pttl(key!), 'a later save keeps the per-session maxAge').to.be.closeTo(month, 5_000);
    const fresh = makeExpressApp({ maxAge: 3_600_000, redis: t.redis });
    expect((await replay(fresh, captured(res)!)).userId).to.equal('dan');
  });

  it('a browser-session cookie (maxAge "session") has no Expires, and the store still bounds the session', async () => {
    const t = makeExpressApp({ maxAge: 'session', browserSessionTtl: 3_600_000 });
    const agent = t.agent();
    const res = await agent.post('/login?user=eve').expect(200);
    expect(String(res.headers['set-cookie'])).to.not.match(/Expires=/);
    const [key] = await liveSessionKeys(t);
    expect(await t.redis.pttl(key!)).to.be.within(3_500_000, 3_600_000);
    await agent.post('/set?x=1').expect(200);
    expect((await agent.get('/whoami')).body).to.deep.include({ userId: 'eve', data: { x: '1' } });
  });

  it('secure cookie defaults: name sid, HttpOnly, SameSite=Lax; Secure only over HTTPS as trust proxy reports it', async () => {
    const t = makeExpressApp();
    const plain = await t.agent().post('/login?user=fay').expect(200);
    const line = String(plain.headers['set-cookie']);
    expect(line)
      .to.match(/^sid=s%3A/)
      .and.match(/HttpOnly/)
      .and.match(/SameSite=Lax/);
    expect(line).to.not.match(/Secure/);
    const spoofed = await t.agent().post('/login?user=fay').set('X-Forwarded-Proto', 'https').expect(200);
    expect(String(spoofed.headers['set-cookie'])).to.not.match(
      /Secure/,
      'proxy headers are not trusted by default',
    );
    t.app.set('trust proxy', 1);
    const proxied = await t.agent().post('/login?user=fay').set('X-Forwarded-Proto', 'https').expect(200);
    expect(String(proxied.headers['set-cookie'])).to.match(/; Secure/);
  });

  it('invalid options fail at start-up with an error that names the option', () => {
    const redis = makeExpressApp().redis;
    const cases: [object, RegExp][] = [
      [{ redis }, /secret must be/],
      [{ redis, secret: [] }, /secret must be/],
      [{ redis, secret: 's', key: 'x' }, /Koa options/],
      [{ redis, secret: 's', name: 'bad name' }, /key must be a valid cookie name/],
      [{ redis, secret: 's', maxSessions: 2 }, /maxSessions needs the device registry/],
      [{ redis, secret: 's', companionCookie: 'sid' }, /companionCookie/],
      [{ redis, secret: 's', unset: 'drop' }, /unset must be/],
      [{ secret: 's' }, /redis must be/],
    ];
    for (const [options, message] of cases) {
      expect(() => createExpressSessions(options as never)).to.throw(TypeError, message);
    }
  });

  it('login(), logout() without the middleware fail with a clear error', async () => {
    const t = makeExpressApp();
    const req = { headers: {} } as unknown as Request;
    for (const step of [() => t.sessions.login(req, 'x'), () => t.sessions.logout(req)]) {
      const error = await step().catch((e: Error) => e);
      expect((error as Error).message).to.match(/needs sessions.middleware to run first/);
    }
    expect(signedCookie('x')).to.match(/^sid=s%3Ax\./);
  });
});
