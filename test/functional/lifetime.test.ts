import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { HORIZON_STEP, horizon } from '../../lib/core/horizon.js';
import { APP_KEYS, closeClients, makeApp, newRedis, setCookieLines } from '../support/app.js';
import { sign } from '../support/cookies.js';
import { allKeys, commandStats, resetStats, watchCommands } from '../support/redis-view.js';

const tag = (id: string) => Buffer.from(id).toString('base64url');

/** The expiry of the last Set-Cookie line for `name`, in ms, if it has one. */
function cookieExpiry(res: { headers: Record<string, unknown> }, name: string): number | undefined {
  const line = setCookieLines(res).findLast((c) => c.startsWith(`${name}=`));
  const expires = /expires=([^;]+)/i.exec(line ?? '')?.[1];
  return expires === undefined ? undefined : new Date(expires).getTime();
}

async function sessionKey(redis: Redis, user: string): Promise<string> {
  const keys = (await allKeys(redis, `sess:{${tag(user)}}:*:*`)).filter((k) => !k.includes(':x:'));
  expect(keys).to.have.length(1);
  return keys[0]!;
}

/** Counts the commands Redis ran while `work` ran, from INFO commandstats. */
async function commandCounts(redis: Redis, work: () => Promise<unknown>): Promise<Record<string, number>> {
  await resetStats(redis);
  const before = await commandStats(redis);
  await work();
  const after = await commandStats(redis);
  const delta: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after)) {
    const d = calls - (before[name] ?? 0);
    if (d > 0 && !['info', 'config|resetstat'].includes(name)) delta[name] = d;
  }
  return delta;
}

describe('TTLs, maxAge and round trips (invariant 4, SPEC section 6)', () => {
  afterEach(closeClients);

  it('a signed-in read costs one Redis round trip: one MGET, no script', async () => {
    const t = makeApp();
    const agent = t.agent();
    await agent.post('/login?user=amy').expect(200);
    await agent.get('/whoami').expect(200);
    // MONITOR shows the commands clients send; those run inside a script come from "lua".
    const monitor = await watchCommands(t.redis);
    for (let i = 0; i < 10; i++) await agent.get('/whoami').expect(200);
    const sent = (await monitor.stop()).map((c) => c.name).filter((name) => name !== 'cluster');
    expect(sent).to.deep.equal(Array(10).fill('mget'));
    // INFO commandstats agrees: ten MGETs and nothing else.
    const counts = await commandCounts(t.redis, async () => {
      for (let i = 0; i < 10; i++) await agent.get('/whoami').expect(200);
    });
    expect(counts).to.deep.equal({ mget: 10 });
  });

  /**
   * A signed-in session of `user` whose stored end is moved to `expiresAt` (with the epoch key
   * extended to its horizon, as the write that stored it would have), then one rolling touch
   * watched with MONITOR. Returns the commands the app sent and the keys' TTLs after it.
   */
  async function touchFrom(user: string, pick: (soonest: number) => number | undefined) {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const agent = t.agent();
    await agent.post(`/login?user=${user}`).expect(200);
    await agent.post('/set?a=1').expect(200);
    const key = await sessionKey(t.redis, user);
    const epochKey = `sess:{${tag(user)}}:e`;
    const stored = (await t.redis.get(key))!;
    let expiresAt: number | undefined;
    // The earliest end the touch can write is now + maxAge; `pick` says what to store before it,
    // or undefined when this moment is too close to a step boundary to arrange it (then wait).
    for (let tries = 0; expiresAt === undefined; tries++) {
      expect(tries, 'found a moment to arrange the stored end').to.be.below(5);
      expiresAt = pick(Date.now() + 60_000);
      if (expiresAt === undefined) await new Promise((resolve) => setTimeout(resolve, 1_500));
    }
    const now = Date.now();
    await t.redis.set(key, expiresAt.toString(36).padStart(9, '0') + stored.slice(9), 'PX', expiresAt - now);
    await t.redis.pexpire(epochKey, horizon(expiresAt) - now, 'GT');
    const monitor = await watchCommands(t.redis);
    await agent.get('/whoami').expect(200);
    const seen = (await monitor.stop()).filter((c) => c.name !== 'cluster').map((c) => c.args.join(' '));
    const after = (await t.redis.get(key))!;
    expect(after.slice(9), 'the data and header are unchanged').to.equal(stored.slice(9));
    expect(Number.parseInt(after.slice(0, 9), 36), 'the end moved').to.be.greaterThan(expiresAt);
    expect(seen.filter((line) => /^set /i.test(line))).to.have.length(1);
    expect(
      seen.some((line) => /^set .* xx$/i.test(line)),
      'SET … XX',
    ).to.equal(true);
    expect(
      seen.some((line) => /^(eval|evalsha) /i.test(line)),
      'no script',
    ).to.equal(false);
    const [sessionTtl, epochTtl] = [await t.redis.pttl(key), await t.redis.pttl(epochKey)];
    expect(sessionTtl).to.be.within(59_000, 60_000);
    expect(epochTtl, 'the epoch key outlives the session').to.be.at.least(sessionTtl);
    return { seen, epochTtl };
  }

  it('a rolling touch that ends in the same horizon step as the stored session is one SET … XX, nothing else', async () => {
    const { seen } = await touchFrom('ben', (soonest) => {
      // The touch writes an end in [soonest, soonest + 500]; store one 0.6 s to 30 s before it, in the same step.
      const step = horizon(soonest + 500);
      const stored = Math.max(step - HORIZON_STEP + 1, soonest - 30_000);
      return stored <= soonest - 700 ? stored : undefined;
    });
    expect(seen.filter((line) => !/^get |^mget /i.test(line))).to.have.length(1);
  });

  it('a rolling touch that ends in a later step also extends the epoch key to its horizon (PEXPIRE … GT), in the same round trip', async () => {
    const { seen, epochTtl } = await touchFrom('bea', (soonest) => {
      // A step boundary at least 2 s away, and at least 1 s before the touch's earliest end: nearer,
      // the touch would fall inside the touch window (600 ms here) and rightly write nothing.
      const boundary = Math.floor(soonest / HORIZON_STEP) * HORIZON_STEP;
      return boundary - Date.now() >= 2_000 && soonest - boundary >= 1_000 ? boundary : undefined;
    });
    expect(
      seen.some((line) => /^pexpire sess:\{[^}]+\}:e \d+ gt$/i.test(line)),
      'PEXPIRE … GT',
    ).to.equal(true);
    expect(epochTtl).to.be.greaterThan(60_000 - 1_000);
  });

  it('skips a rolling touch that would move the expiry by less than the touch window, and the cookie with it', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const agent = t.agent();
    const login = await agent.post('/login?user=bea').expect(200);
    const key = await sessionKey(t.redis, 'bea');
    const monitor = await watchCommands(t.redis);
    const res = await agent.get('/whoami').expect(200);
    const seen = (await monitor.stop()).map((c) => c.name).filter((name) => name !== 'cluster');
    expect(seen, 'the read, and no touch').to.deep.equal(['mget']);
    expect(res.body.userId).to.equal('bea');
    // The browser's cookie already ends exactly when the store ends the session: nothing to re-send.
    const stored = Number.parseInt((await t.redis.get(key))!.slice(0, 9), 36);
    expect(Math.abs(cookieExpiry(login, 'sid')! - stored)).to.be.below(1000);
    expect(setCookieLines(res), 'no Set-Cookie for an unchanged session').to.deep.equal([]);
  });

  it('a rolling touch past the touch window writes the new end and re-sends the cookie with it', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const agent = t.agent();
    await agent.post('/login?user=bel').expect(200);
    const key = await sessionKey(t.redis, 'bel');
    const before = Number.parseInt((await t.redis.get(key))!.slice(0, 9), 36);
    // The touch window of a 60 s session is 600 ms.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const res = await agent.get('/whoami').expect(200);
    const stored = Number.parseInt((await t.redis.get(key))!.slice(0, 9), 36);
    expect(stored - before).to.be.at.least(600);
    expect(Math.abs(cookieExpiry(res, 'sid')! - stored)).to.be.below(1000);
    expect(cookieExpiry(res, 'sid.sig'), 'the signature goes with it').to.equal(cookieExpiry(res, 'sid'));
  });

  it('a rolling request with a cookie signed under an older key re-sends it under the first key, inside the touch window too', async () => {
    const t = makeApp({ rolling: true, maxAge: 60_000 });
    const agent = t.agent();
    await agent.post('/login?user=bet').expect(200);
    t.app.keys = ['a-newer-signing-key', ...APP_KEYS];
    const res = await agent.get('/whoami').expect(200);
    expect(res.body.userId).to.equal('bet');
    const value = /^sid=([^;]*)/.exec(setCookieLines(res).find((c) => c.startsWith('sid=')) ?? '')?.[1];
    const signature = /^sid\.sig=([^;]*)/.exec(
      setCookieLines(res).find((c) => c.startsWith('sid.sig=')) ?? '',
    )?.[1];
    expect(signature).to.equal(sign(`sid=${value}`, 'a-newer-signing-key'));
    // With its attributes: a bare re-signed .sig would be a browser-session cookie.
    expect(cookieExpiry(res, 'sid.sig')).to.equal(cookieExpiry(res, 'sid'));
    expect(cookieExpiry(res, 'sid')).to.be.a('number');
    // Later requests with the re-signed pair need nothing re-sent.
    const again = await agent.get('/whoami').expect(200);
    expect(again.body.userId).to.equal('bet');
    expect(setCookieLines(again)).to.deep.equal([]);
  });

  it('handles the maxAge koa-session passes: a number, "session" (bounded) and undefined', async () => {
    const numeric = makeApp({ maxAge: 120_000 });
    const a = numeric.agent();
    const res = await a.post('/login?user=cat').expect(200);
    expect(String(res.headers['set-cookie'])).to.match(/expires=/i);
    // The key ends when the cookie does: no slack in which a replayed cookie would still work.
    const ttl = await numeric.redis.pttl(await sessionKey(numeric.redis, 'cat'));
    expect(ttl).to.be.within(119_000, 120_000);

    const browser = makeApp({ maxAge: 'session', browserSessionTtl: 3_600_000 });
    const b = browser.agent();
    const res2 = await b.post('/login?user=dan').expect(200);
    expect(String(res2.headers['set-cookie'])).to.not.match(/expires=/i);
    const ttl2 = await browser.redis.pttl(await sessionKey(browser.redis, 'dan'));
    expect(ttl2).to.be.within(3_500_000, 3_600_000);
    await b.post('/set?x=1').expect(200);
    expect((await b.get('/whoami')).body).to.deep.include({ userId: 'dan', data: { x: '1' } });

    const store = browser.sessions.store;
    expect(store.ttl(undefined)).to.equal(3_600_000, 'undefined falls back to the configured maxAge');
    expect(store.ttl('session')).to.equal(3_600_000);
    expect(store.ttl(5_000)).to.equal(5_000);
    expect(() => store.ttl(-1)).to.throw(TypeError, /maxAge/);
    expect(makeApp().sessions.store.ttl(undefined)).to.equal(86_400_000);
  });

  it('the epoch key outlives every session in its epoch', async () => {
    const t = makeApp({ maxAge: 60_000 });
    const short = t.agent();
    await short.post('/login?user=eli').expect(200);
    const epochKey = `sess:{${tag('eli')}}:e`;
    const long = makeApp({ maxAge: 600_000 });
    await long.agent().post('/login?user=eli').expect(200);
    const epochTtl = await t.redis.pttl(epochKey);
    for (const key of (await allKeys(t.redis, `sess:{${tag('eli')}}:*:*`)).filter(
      (k) => !k.includes(':x:'),
    )) {
      expect(epochTtl).to.be.at.least(await t.redis.pttl(key));
    }
    expect(epochTtl).to.be.greaterThan(599_000);
  });

  it('returns the stored expiry as _expire, so koa-session renew works', async () => {
    const t = makeApp({ renew: true, maxAge: 60_000 });
    const agent = t.agent();
    await agent.post('/login?user=fay').expect(200);
    const key = await sessionKey(t.redis, 'fay');
    // Less than half the lifetime left: rewrite the stored expiry, and the key's TTL with it.
    const value = (await t.redis.get(key))!;
    const soon = (Date.now() + 20_000).toString(36).padStart(9, '0');
    await t.redis.set(key, soon + value.slice(9), 'PX', 20_000);
    const res = await agent.get('/whoami').expect(200);
    expect(res.headers['set-cookie'], 'renewed cookie').to.not.equal(undefined);
    expect(await t.redis.pttl(key)).to.be.greaterThan(55_000);
  });

  it('works the same over RESP2 and RESP3', async () => {
    for (const protocol of [2, 3] as const) {
      const t = makeApp({ redis: newRedis({ protocol }), registry: true });
      const agent = t.agent();
      await agent.post(`/login?user=gus${protocol}`).expect(200);
      await agent.post('/set?v=1').expect(200);
      expect((await agent.get('/whoami')).body).to.deep.include({
        userId: `gus${protocol}`,
        data: { v: '1' },
      });
      expect(await t.sessions.list(`gus${protocol}`)).to.have.length(1);
      expect(await t.sessions.rotate(`gus${protocol}`)).to.equal(true);
      expect((await agent.get('/whoami')).body.userId).to.equal(null);
    }
  });
});
