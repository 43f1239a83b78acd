// Attack on maxSessions with the remembered registry handles (RecentMap): two app instances, one Redis.
import { expect } from 'chai';
import { closeClients, makeApp, newRedis, type TestApp } from '../support/app.js';
import { captured, signedInAs, sleep } from '../support/replay.js';

const HOUR = 3_600_000;

function twoInstances(policy: 'evict-oldest' | 'reject') {
  const options = { maxAge: HOUR, registry: true, maxSessions: 2, sessionLimitPolicy: policy };
  const one = makeApp({ ...options, redis: newRedis() });
  const two = makeApp({ ...options, redis: newRedis() });
  return [one, two] as const;
}

async function login(t: TestApp, user = 'alice'): Promise<{ cookie: string | undefined; status: number }> {
  const res = await t.agent().post(`/login?user=${user}`);
  return { cookie: captured(res), status: res.status };
}

async function live(t: TestApp, cookies: (string | undefined)[]): Promise<boolean[]> {
  return Promise.all(cookies.map(async (c) => (c ? (await signedInAs(t, c)) === 'alice' : false)));
}

describe('attack: maxSessions with handles remembered by another instance', () => {
  afterEach(closeClients);

  it('probe: evict-oldest, instance 1 remembers [a, b], instance 2 signs in c (evicting a), instance 1 signs in d: b goes, c and d stay', async () => {
    const [one, two] = twoInstances('evict-oldest');
    const a = await login(one);
    await sleep(5);
    const b = await login(one);
    await sleep(5);
    const c = await login(two);
    expect(await live(one, [a.cookie, b.cookie, c.cookie])).to.deep.equal([false, true, true]);
    await sleep(5);
    const d = await login(one);
    expect(await live(one, [a.cookie, b.cookie, c.cookie, d.cookie])).to.deep.equal([
      false,
      false,
      true,
      true,
    ]);
    expect(await one.sessions.list('alice')).to.have.length(2);
  });

  it('probe: reject, instance 1 remembers [a, b]; instance 2 revokes a and signs in c; instance 1 refuses d', async () => {
    const [one, two] = twoInstances('reject');
    const a = await login(one);
    const b = await login(one);
    // Revoke one of them by its id, from the other instance.
    const listed = await two.sessions.list('alice');
    const aId = listed.find((s) => s.id)!.id;
    expect(await two.sessions.revoke('alice', aId)).to.equal(true);
    const c = await login(two);
    expect(c.status).to.equal(200);
    const d = await login(one);
    expect(d.status).to.equal(409);
    const alive = (await live(one, [a.cookie, b.cookie, c.cookie])).filter(Boolean);
    expect(alive).to.have.length(2);
  });

  it('probe: evict-oldest, the oldest session was signed in by the other instance (undeclared by the cache): it is the one evicted', async () => {
    const options = {
      maxAge: HOUR,
      registry: true,
      maxSessions: 3,
      sessionLimitPolicy: 'evict-oldest' as const,
    };
    const one = makeApp({ ...options, redis: newRedis() });
    const two = makeApp({ ...options, redis: newRedis() });
    const x = await login(two);
    await sleep(5);
    const a = await login(one);
    await sleep(5);
    const b = await login(one);
    await sleep(5);
    const d = await login(one);
    expect(await live(one, [x.cookie, a.cookie, b.cookie, d.cookie])).to.deep.equal([
      false,
      true,
      true,
      true,
    ]);
  });

  for (const policy of ['evict-oldest', 'reject'] as const) {
    it(`probe: ${policy}, 24 concurrent logins spread over two instances with warm caches end within the limit`, async () => {
      const [one, two] = twoInstances(policy);
      // Warm both caches.
      await login(one);
      await login(two);
      const results = await Promise.all(Array.from({ length: 24 }, (_, i) => login(i % 2 === 0 ? one : two)));
      for (const r of results) expect([200, 409, 503]).to.include(r.status);
      const cookies = results.map((r) => (r.status === 200 ? r.cookie : undefined));
      const alive = (await live(one, cookies)).filter(Boolean).length;
      expect(alive, 'live sessions among the concurrent logins').to.be.at.most(2);
      expect((await one.sessions.list('alice')).length).to.be.at.most(2);
      if (policy === 'reject') expect(results.filter((r) => r.status === 200).length).to.be.at.most(2);
    });
  }
});
