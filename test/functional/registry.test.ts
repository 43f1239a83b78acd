import { expect } from 'chai';
import type { Context } from 'koa';
import { HORIZON_STEP, horizon } from '../../lib/core/horizon.js';
import { SessionLimitError } from '../../lib/index.js';
import { closeClients, cookieValue, makeApp, sessionCookieLines } from '../support/app.js';
import { allKeys, watchCommands } from '../support/redis-view.js';

const tag = (id: string) => Buffer.from(id).toString('base64url');
const registryKey = (id: string) => `sess:{${tag(id)}}:r`;
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

describe('device registry: list, revoke, limits, notices, lifetime, reasons (issue 3)', () => {
  afterEach(closeClients);

  it('lists live sessions with metadata, marks the current one, and honours app.proxy for the IP', async () => {
    const t = makeApp({ registry: true });
    t.app.proxy = true;
    const laptop = t.agent();
    const phone = t.agent();
    await laptop
      .post('/login?user=ada')
      .set('User-Agent', UA)
      .set('X-Forwarded-For', '203.0.113.7')
      .expect(200);
    await phone
      .post('/login?user=ada')
      .set('User-Agent', 'phone')
      .set('X-Forwarded-For', '198.51.100.2')
      .expect(200);
    const res = await laptop.get('/list?user=ada').expect(200);
    const list = res.body.list as Array<Record<string, unknown>>;
    expect(list).to.have.length(2);
    const mine = list.find((s) => s.current)!;
    expect(mine).to.include({ ip: '203.0.113.7', userAgent: UA });
    expect(list.find((s) => !s.current)).to.include({ ip: '198.51.100.2', userAgent: 'phone' });
    for (const s of list) {
      expect(s.id).to.match(/^[A-Za-z0-9_-]{16}$/);
      for (const field of ['createdAt', 'lastSeenAt', 'expiresAt'])
        expect(Date.parse(String(s[field]))).to.be.a('number').and.not.NaN;
    }
  });

  it('revoke ends exactly one session at once, reports whether it existed, and tells that device why', async () => {
    const t = makeApp({ registry: true });
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=bea').expect(200);
    await phone.post('/login?user=bea').expect(200);
    const phoneId = (await phone.get('/list?user=bea')).body.list.find(
      (s: { current: boolean }) => s.current,
    ).id;
    expect(await t.sessions.revoke('bea', phoneId)).to.equal(true);
    expect(await t.sessions.revoke('bea', phoneId)).to.equal(false);
    expect(await t.sessions.revoke('bea', 'not-a-handle')).to.equal(false);
    const after = await phone.get('/whoami');
    expect(after.body).to.deep.include({ userId: null, revoked: 'revoked' });
    expect((await laptop.get('/whoami')).body.userId).to.equal('bea');
    expect(await t.sessions.list('bea')).to.have.length(1);
  });

  it('a request in flight cannot undo a revoke', async () => {
    const t = makeApp({ registry: true });
    const agent = t.agent();
    await agent.post('/login?user=cid').expect(200);
    const id = (await t.sessions.list('cid'))[0]!.id;
    const { Gate } = await import('../support/app.js');
    const gate = new Gate();
    t.gates.set('g', gate);
    const pending = agent.post('/hold?gate=g&then=set').then((r) => r);
    await gate.arrived;
    await t.sessions.revoke('cid', id);
    gate.release();
    await pending;
    expect(await t.sessions.list('cid')).to.deep.equal([]);
    expect((await agent.get('/whoami')).body.userId).to.equal(null);
  });

  it('at the limit, a login evicts the least recently active session in one script: the handles come from the last login here', async () => {
    const t = makeApp({ registry: true, maxSessions: 2 });
    const agents = [t.agent(), t.agent(), t.agent()];
    for (const agent of agents) await agent.post('/login?user=lea').expect(200);
    // The first device is the oldest: it was evicted, and is asked nothing more.
    expect((await agents[0]!.get('/whoami')).body.userId).to.equal(null);
    await agents[1]!.post('/set?x=1').set('User-Agent', 'moved on').expect(200);
    const monitor = await watchCommands(t.redis);
    const fourth = t.agent();
    await fourth.post('/login?user=lea').expect(200);
    const scripts = (await monitor.stop()).filter(
      (c) => /^(eval|evalsha)$/.test(c.name) && c.source !== 'lua',
    );
    expect(scripts, 'one script for the login').to.have.length(1);
    // Agent 2 (third login) was active less recently than agent 1, which just wrote: it goes.
    expect((await agents[2]!.get('/whoami')).body.userId).to.equal(null);
    expect((await agents[1]!.get('/whoami')).body.userId).to.equal('lea');
    expect((await fourth.get('/whoami')).body.userId).to.equal('lea');
  });

  it('200 concurrent logins never leave more than maxSessions alive (evict-oldest)', async () => {
    const t = makeApp({ registry: true, maxSessions: 3 });
    const agents = Array.from({ length: 200 }, () => t.agent());
    const results = await Promise.all(agents.map((a) => a.post('/login?user=dot')));
    expect(results.filter((r) => r.status !== 200).map((r) => r.text)).to.deep.equal([]);
    expect(await t.sessions.list('dot')).to.have.length(3);
    let alive = 0;
    for (const a of agents) if ((await a.get('/whoami')).body.userId === 'dot') alive++;
    expect(alive).to.equal(3);
    const evicted = agents[0]!;
    const res = await evicted.get('/whoami');
    expect(res.body.revoked ?? 'session-limit').to.equal('session-limit');
  });

  it('200 concurrent logins under "reject" admit exactly maxSessions, refusing the rest with SessionLimitError', async () => {
    const t = makeApp({ registry: true, maxSessions: 3, sessionLimitPolicy: 'reject' });
    const results = await Promise.all(Array.from({ length: 200 }, () => t.agent().post('/login?user=eve')));
    expect(results.filter((r) => r.status === 200)).to.have.length(3);
    const refused = results.filter((r) => r.status === 409);
    expect(refused).to.have.length(197);
    expect(refused[0]!.body.error).to.equal(new SessionLimitError('x', 3).name);
    // A refused login changes nothing: its anonymous session keeps working.
    const agent = t.agent();
    await agent.post('/set?cart=2').expect(200);
    await agent.post('/login?user=eve').expect(409);
    expect((await agent.get('/whoami')).body).to.deep.include({ userId: null, data: { cart: '2' } });
  });

  it('the registry is advisory: deleting it changes nothing about revocation or live sessions', async () => {
    const t = makeApp({ registry: true });
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=fin').expect(200);
    await phone.post('/login?user=fin').expect(200);
    const [one] = await t.sessions.list('fin');
    await t.redis.del(registryKey('fin'));
    expect(await t.sessions.list('fin')).to.deep.equal([]); // listing is incomplete...
    expect((await laptop.get('/whoami')).body.userId).to.equal('fin'); // ...sessions still work
    expect(await t.sessions.revoke('fin', one!.id)).to.equal(true); // revoke needs no registry
    expect(await t.sessions.rotate('fin')).to.equal(true);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null);
    expect((await phone.get('/whoami')).body.userId).to.equal(null);
  });

  it('rotate leaves the registry alone, and the first login under the new epoch starts a fresh one', async () => {
    const t = makeApp({ registry: true });
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=ida').expect(200);
    await phone.post('/login?user=ida').expect(200);
    expect(await t.redis.zcard(registryKey('ida'))).to.equal(2);
    expect(await t.sessions.rotate('ida')).to.equal(true);
    // rotate touched only the epoch key; the entries it left are dead, and the next login drops them.
    expect(await t.redis.zcard(registryKey('ida'))).to.equal(2);
    const res = await phone.post('/login?user=ida').expect(200);
    // Checked before any list(), which would prune the dead entries itself.
    expect(await t.redis.zrange(registryKey('ida'), '0', '-1')).to.deep.equal([res.body.login.sessionId]);
    expect(await t.sessions.list('ida')).to.have.length(1);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null);
  });

  it('does not list a session whose value has no readable header, since a read treats it as a fresh session', async () => {
    const t = makeApp({ registry: true });
    const agent = t.agent();
    await agent.post('/login?user=kim').expect(200);
    const [live] = await t.sessions.list('kim');
    const sessionKey = (await allKeys(t.redis, `sess:{${tag('kim')}}:*:${live!.id}`))[0]!;
    // A second session of kim in the earlier, 29-byte header layout (times in ms, a newline).
    const oldKey = sessionKey.replace(live!.id, 'old-layout-handl');
    await t.redis.set(oldKey, '0000000100000002AAAAAAAAAAA\n{"a":1}', 'PX', 60_000);
    await t.redis.zadd(registryKey('kim'), Date.now() + 60_000, 'old-layout-handl');
    expect((await t.sessions.list('kim')).map((s) => s.id)).to.deep.equal([live!.id]);
  });

  it('the next registry write (here: from another device) prunes stale entries and re-adds its own session', async () => {
    const t = makeApp({ registry: true });
    const agent = t.agent();
    await agent.post('/login?user=gil').expect(200);
    // Dead for sure: scored more than one horizon step ago (lib/core/horizon.ts).
    await t.redis.zadd(registryKey('gil'), Date.now() - HORIZON_STEP - 1_000, 'stale-handle-aaaaaaaaaa');
    await t.redis.pexpire(registryKey('gil'), 60_000);
    await agent.post('/set?x=1').set('User-Agent', 'another device').expect(200);
    const members = await t.redis.zrange(registryKey('gil'), '0', '-1');
    expect(members).to.not.include('stale-handle-aaaaaaaaaa');
    expect(members).to.have.length(1);
    expect(await t.redis.pttl(registryKey('gil'))).to.be.greaterThan(60_000);
  });

  it('a change from the same device that ends in the same horizon step is one SET … XX: no script, and list() shows the new end', async () => {
    const t = makeApp({ registry: true, maxAge: 60_000 });
    const agent = t.agent();
    // Login and change must end in the same step (lib/core/horizon.ts): not within 2 s of a boundary.
    while (horizon(Date.now() + 60_000) !== horizon(Date.now() + 62_000)) {
      await new Promise((r) => setTimeout(r, 500));
    }
    await agent.post('/login?user=gus').expect(200);
    const before = (await t.sessions.list('gus'))[0]!;
    await new Promise((r) => setTimeout(r, 20));
    const monitor = await watchCommands(t.redis);
    await agent.post('/set?x=1').expect(200);
    const seen = (await monitor.stop()).filter((c) => c.name !== 'cluster').map((c) => c.name);
    expect(seen).to.deep.equal(['mget', 'set']);
    const after = (await t.sessions.list('gus'))[0]!;
    expect(after.id).to.equal(before.id);
    expect(after.expiresAt.getTime()).to.be.greaterThan(before.expiresAt.getTime());
  });

  it('refreshes last-seen at most once per lastSeenInterval: the read stays one MGET, the refresh is a separate write when stale', async () => {
    const t = makeApp({ registry: true, lastSeenInterval: 200 });
    const agent = t.agent();
    await agent.post('/login?user=hal').expect(200);
    const first = (await t.sessions.list('hal'))[0]!.lastSeenAt.getTime();
    await agent.get('/whoami').expect(200);
    expect((await t.sessions.list('hal'))[0]!.lastSeenAt.getTime()).to.equal(first, 'throttled');
    // Stamps are whole seconds and the throttle counts from the end of the stamped second.
    await new Promise((r) => setTimeout(r, 1250));
    await agent.get('/whoami').expect(200);
    expect((await t.sessions.list('hal'))[0]!.lastSeenAt.getTime()).to.be.greaterThan(first);
  });

  it('list() and expiresAt(ctx) report the same end, and IPv4 clients of a dual-stack socket read as plain IPv4 (issue 12)', async () => {
    const t = makeApp(
      { registry: true, maxAge: 60_000 },
      {
        'GET /ends': async (ctx, app) => {
          ctx.state.expiresAt = app.sessions.expiresAt(ctx)?.getTime() ?? null;
          ctx.state.listed = (await app.sessions.list('ivy', ctx)).map((s) => ({
            ...s,
            expiresAt: s.expiresAt.getTime(),
          }));
        },
      },
    );
    const agent = t.agent();
    await agent.post('/login?user=ivy').expect(200);
    const res = await agent.get('/ends').expect(200);
    const [mine] = res.body.listed as { expiresAt: number; ip: string; current: boolean }[];
    expect(mine!.current).to.equal(true);
    expect(mine!.expiresAt).to.equal(res.body.expiresAt);
    expect(res.body.expiresAt - Date.now()).to.be.within(55_000, 60_000);
    // supertest reaches the app over a dual-stack socket: Node reports ::ffff:127.0.0.1.
    expect(mine!.ip).to.equal('127.0.0.1');
  });

  it('calls onLogin with the new session and the other live ones; a throwing hook is reported, not swallowed', async () => {
    const events: Array<{ userId: string; otherSessions: unknown[]; sessionId: string }> = [];
    const reported: unknown[] = [];
    let fail = false;
    const t = makeApp({
      registry: true,
      onLogin: async (event) => {
        events.push(event);
        if (fail) throw new Error('mailer down');
      },
    });
    t.app.on('error', (error: unknown, ctx: Context) => reported.push([error, ctx]));
    await t.agent().post('/login?user=ivy').set('User-Agent', UA).expect(200);
    while (events.length === 0) await new Promise((r) => setTimeout(r, 10));
    fail = true;
    const second = await t.agent().post('/login?user=ivy').expect(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(events).to.have.length(2);
    expect(events[1]!.otherSessions).to.have.length(1);
    expect(events[1]!.sessionId).to.equal(second.body.login.sessionId);
    expect(reported).to.have.length(1);
    expect(String((reported[0] as unknown[])[0])).to.include('mailer down');
    expect(await t.sessions.list('ivy')).to.have.length(2, 'the login happened anyway');
  });

  it('an onLogin hook that throws a non-Error is reported as an Error, and the default Koa listener does not end the process', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      let calls = 0;
      const t = makeApp({
        registry: true,
        onLogin: async () => {
          calls++;
          throw { code: 'MAILER_DOWN' };
        },
      });
      // No app.on('error'): Koa's own onerror runs, and it throws on anything but an Error.
      await t.agent().post('/login?user=ned').expect(200);
      while (calls === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      expect(rejections).to.deep.equal([]);

      const reported: unknown[] = [];
      t.app.on('error', (error: unknown) => reported.push(error));
      await t.agent().post('/login?user=ned').expect(200);
      while (reported.length === 0) await new Promise((r) => setTimeout(r, 10));
      expect(reported[0]).to.be.instanceOf(Error);
      expect((reported[0] as Error).cause).to.deep.equal({ code: 'MAILER_DOWN' });
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('absoluteMaxAge ends a rolling session on time however often it is touched, and says why', async () => {
    const t = makeApp({ registry: true, rolling: true, absoluteMaxAge: 1_200 });
    const start = Date.now();
    // The cookie itself ends with the lifetime (rounded up to the second), and a cookie jar drops
    // it then: keep presenting the newest pair, as a browser whose clock runs a little slow would.
    let cookie = '';
    const send = async (method: 'get' | 'post', path: string) => {
      const res = await t.agent()[method](path).set('Cookie', cookie);
      const lines = sessionCookieLines(res);
      if (lines.length > 0) cookie = lines.map((line) => line.split(';')[0]).join('; ');
      return res;
    };
    await send('post', '/login?user=jay');
    let last = await send('get', '/whoami');
    while (last.body.userId === 'jay' && Date.now() - start < 5_000) {
      await new Promise((r) => setTimeout(r, 100));
      last = await send('get', '/whoami');
    }
    const lived = Date.now() - start;
    expect(last.body.userId).to.equal(null);
    expect(lived).to.be.within(1_100, 2_000);
    expect(last.body.revoked).to.equal('lifetime-exceeded');
  });

  it('a session koa-session drops at its absolute lifetime, a moment after the store read it, still says why', async () => {
    const t = makeApp({ registry: true, absoluteMaxAge: 60_000 });
    const res = await t.agent().post('/login?user=jon').expect(200);
    const key = decodeURIComponent(cookieValue(res)!);
    const loginTime = Number.parseInt(key.slice(key.lastIndexOf('.') + 1).slice(0, 8), 36);
    const end = loginTime + 60_000;
    const ctx = {};
    const realNow = Date.now;
    try {
      // The store reads it 1 ms before the end; koa-session's own `_expire` check comes 1 ms after.
      Date.now = () => end - 1;
      expect(await t.sessions.store.get(key, undefined, { ctx }), 'read while live').to.not.equal(undefined);
      Date.now = () => end + 1;
      t.sessions.store.genid(ctx);
    } finally {
      Date.now = realNow;
    }
    expect(t.sessions.revokedReason(ctx as Context)).to.deep.equal({
      reason: 'lifetime-exceeded',
      at: new Date(end),
    });
  });

  it('records a reason for each kind of revocation and hands it to the next request', async () => {
    const t = makeApp({ registry: true, maxSessions: 1 });
    const a = t.agent();
    await a.post('/login?user=kai').expect(200);
    await t.sessions.rotate('kai', { reason: 'password-changed' });
    expect((await a.get('/whoami')).body.revoked).to.equal('password-changed');

    const b = t.agent();
    await b.post('/login?user=kai').expect(200);
    const evictor = await t.agent().post('/login?user=kai');
    expect(evictor.status, JSON.stringify(evictor.body)).to.equal(200); // evicts b
    expect((await b.get('/whoami')).body.revoked).to.equal('session-limit');

    const big = makeApp({ registry: true });
    const c = big.agent();
    const d = big.agent();
    await c.post('/login?user=lou').expect(200);
    await d.post('/login?user=lou').expect(200);
    await c.post('/logout-others').expect(200);
    expect((await d.get('/whoami')).body.revoked).to.equal('signed-out-elsewhere');

    // A session that logged in after a rotation is not blamed on it.
    const e = t.agent();
    const login = await e.post('/login?user=kai').expect(200);
    expect(cookieValue(login)).to.be.a('string');
    await t.redis.del(`sess:{${tag('kai')}}:e`);
    expect((await e.get('/whoami')).body.revoked).to.equal(null);
  });

  it('rejects list() without the registry with an error that says how to turn it on', async () => {
    const t = makeApp();
    let error: unknown;
    await t.sessions.list('x').catch((e: unknown) => {
      error = e;
    });
    expect(String(error)).to.match(/registry: true/);
  });
});
