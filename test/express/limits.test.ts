// maxSessions, absoluteMaxAge, the registry, events and the companion cookie on an Express app.
import { expect } from 'chai';
import type { Request } from 'express';
import {
  captured,
  closeClients,
  Gate,
  liveSessionKeys,
  makeExpressApp,
  replay,
  signedInAs,
  sleep,
} from './support.js';

describe('express: session limits (maxSessions)', () => {
  afterEach(closeClients);

  it('"reject" refuses a login over the limit with a 409, changing nothing, and emits limit', async () => {
    const t = makeExpressApp({ registry: true, maxSessions: 2, sessionLimitPolicy: 'reject' });
    const events: unknown[] = [];
    t.sessions.events.on('limit', (e) => events.push(e));
    const laptop = captured(await t.agent().post('/login?user=alice').expect(200))!;
    const phone = captured(await t.agent().post('/login?user=alice').expect(200))!;
    const tablet = t.agent();
    await tablet.post('/set?cart=2').expect(200);
    const refused = await tablet.post('/login?user=alice').expect(409);
    expect(refused.body.error).to.equal('SessionLimitError');
    expect((await tablet.get('/whoami')).body).to.deep.include({ userId: null, data: { cart: '2' } });
    expect(await signedInAs(t, laptop)).to.equal('alice');
    expect(await signedInAs(t, phone)).to.equal('alice');
    expect(events).to.deep.equal([{ userId: 'alice', policy: 'reject', limit: 2, evicted: [] }]);
  });

  it('"evict-oldest" signs the oldest device out, which then learns why', async () => {
    const t = makeExpressApp({ registry: true, maxSessions: 2 });
    const oldest = t.agent();
    await oldest.post('/login?user=bob').expect(200);
    await sleep(5);
    await t.agent().post('/login?user=bob').expect(200);
    await sleep(5);
    const res = await t.agent().post('/login?user=bob').expect(200);
    expect(res.body.login.evicted).to.have.length(1);
    expect((await oldest.get('/whoami')).body).to.deep.include({ userId: null, revoked: 'session-limit' });
    expect(await t.sessions.list('bob')).to.have.length(2);
  });

  it('a login that lands while a regenerate of a signed-in session is in flight never leaves 3 live sessions ("reject", 2)', async () => {
    const t = makeExpressApp(
      { registry: true, maxSessions: 2, sessionLimitPolicy: 'reject' },
      {
        'POST /regenerate-held': async (req, _res, app) => {
          await new Promise<void>((resolve, reject) =>
            req.session.regenerate((error) => (error ? reject(error) : resolve())),
          );
          await app.gates.get('g')!.pass();
        },
      },
    );
    const laptop = captured(await t.agent().post('/login?user=carol').expect(200))!;
    const phone = captured(await t.agent().post('/login?user=carol').expect(200))!;
    const gate = new Gate();
    t.gates.set('g', gate);
    const regenerating = t
      .agent()
      .post('/regenerate-held')
      .set('Cookie', laptop)
      .then((r) => r);
    await gate.arrived;
    const tablet = await t.agent().post('/login?user=carol');
    expect(tablet.status, 'the old key is still there: the limit holds').to.equal(409);
    gate.release();
    const regenerated = await regenerating;
    expect(regenerated.status).to.equal(200);
    const live = [];
    for (const cookie of [captured(regenerated)!, phone, laptop]) {
      if ((await signedInAs(t, cookie)) === 'carol') live.push(cookie);
    }
    expect(live).to.deep.equal([captured(regenerated), phone]);
    expect(await t.sessions.list('carol')).to.have.length(2);
  });
});

describe('express: the registry, list and revoke', () => {
  afterEach(closeClients);

  it('list(userId, req) shows each device with the current one marked; revoke ends one, with a reason', async () => {
    const t = makeExpressApp({ registry: true });
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=dee').set('User-Agent', 'laptop-browser').expect(200);
    await phone.post('/login?user=dee').set('User-Agent', 'phone-browser').expect(200);
    const listed = (await laptop.get('/list?user=dee').expect(200)).body.list as {
      id: string;
      userAgent: string;
      current: boolean;
    }[];
    expect(listed).to.have.length(2);
    const mine = listed.find((s) => s.current)!;
    expect(mine.userAgent).to.equal('laptop-browser');
    const other = listed.find((s) => !s.current)!;
    expect(await t.sessions.revoke('dee', other.id, { reason: 'lost-phone' })).to.equal(true);
    expect((await phone.get('/whoami')).body).to.deep.include({ userId: null, revoked: 'lost-phone' });
    expect((await laptop.get('/whoami')).body.userId).to.equal('dee');
  });

  it('events: login, revoked and rejected, with the public session id', async () => {
    const t = makeExpressApp();
    const seen: string[] = [];
    for (const name of ['login', 'revoked', 'rejected']) t.sessions.events.on(name, () => seen.push(name));
    const agent = t.agent();
    await agent.post('/login?user=gus').expect(200);
    await t.sessions.rotate('gus');
    await agent.get('/whoami').expect(200);
    expect(seen).to.deep.equal(['login', 'revoked', 'rejected']);
  });

  it('onLogin gets the event and the request; its failure is emitted as hook-error', async () => {
    const calls: [string, string][] = [];
    const t = makeExpressApp({
      registry: true,
      onLogin: (event, req: Request) => {
        calls.push([event.userId, req.path]);
        throw new Error('mailer down');
      },
    });
    const failed = new Promise<Error>((resolve) => t.sessions.events.once('hook-error', resolve));
    await t.agent().post('/login?user=hal').expect(200);
    expect((await failed).message).to.equal('mailer down');
    expect(calls).to.deep.equal([['hal', '/login']]);
  });
});

describe('express: absoluteMaxAge and the companion cookie', () => {
  afterEach(closeClients);

  it('absoluteMaxAge ends a rolling session at login + cap, however busy, and the next request learns why', async () => {
    const t = makeExpressApp({ rolling: true, resave: true, absoluteMaxAge: 400, maxAge: 60_000 });
    const agent = t.agent();
    const login = await agent.post('/login?user=ida').expect(200);
    const cookieEnd = new Date(/Expires=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!).getTime();
    expect(cookieEnd, 'the cookie ends with the lifetime, not maxAge').to.be.below(Date.now() + 2_000);
    const started = Date.now();
    while (Date.now() - started < 250) {
      expect((await agent.get('/whoami').expect(200)).body.userId).to.equal('ida');
      await sleep(40);
    }
    await sleep(450 - (Date.now() - started));
    // Replayed by a fresh browser: the agent's own cookie may already have been cleared by a
    // request that ended the session itself when it finished past the cap.
    const after = await replay(t, captured(login)!);
    expect(after.body).to.deep.include({ userId: null, revoked: 'lifetime-exceeded' });
    expect(await liveSessionKeys(t)).to.deep.equal([]);
  });

  it('the companion cookie mirrors the expiry, moves with the session cookie, and is cleared at logout and on revocation', async () => {
    const t = makeExpressApp({ companionCookie: 'sid_expires', rolling: true, maxAge: 600_000 });
    const agent = t.agent();
    const login = await agent.post('/login?user=jo').expect(200);
    const lines = login.headers['set-cookie'] as unknown as string[];
    const companion = lines.find((l) => l.startsWith('sid_expires='))!;
    expect(companion, 'readable by page scripts').to.not.match(/HttpOnly/);
    const value = Number(/^sid_expires=(\d+)/.exec(companion)![1]);
    const [key] = await liveSessionKeys(t);
    expect(value).to.equal(Number.parseInt((await t.redis.get(key!))!.slice(0, 9), 36));
    const out = await agent.post('/logout').expect(200);
    expect(String(out.headers['set-cookie'])).to.match(/sid_expires=; Path=\/; Expires=Thu, 01 Jan 1970/);

    const again = await agent.post('/login?user=jo').expect(200);
    const cookie = captured(again)!;
    expect(cookie).to.include('sid_expires=');
    await t.sessions.rotate('jo');
    const revoked = await replay(t, cookie);
    expect(revoked.body.revoked).to.equal('signed-out-everywhere');
    const res = await t.agent().get('/whoami').set('Cookie', cookie);
    expect(String(res.headers['set-cookie'])).to.match(/sid_expires=; /);
  });
});
