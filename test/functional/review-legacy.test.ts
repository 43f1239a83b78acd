// From the adversarial review of the fast path (issue 11 and 13): each case failed before its fix.
// Legacy adoption: the session limit under concurrent adoptions, rotation before adoption, expired legacy data,
// and the same legacy cookie presented concurrently.

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { signedCookie } from '../support/cookies.js';
import { captured, signedInAs } from '../support/replay.js';

const LEGACY = {
  prefix: 'old:',
  userId: (d: Record<string, unknown>) => (typeof d.userId === 'string' ? d.userId : undefined),
};

async function plant(t: TestApp, data: Record<string, unknown>, pttl = 3_600_000) {
  const sid = randomUUID();
  await t.redis.set(`old:${sid}`, JSON.stringify(data), 'PX', pttl);
  return sid;
}
const fresh = (userId: string, extra = {}) => ({
  userId,
  _expire: Date.now() + 3_000_000,
  _maxAge: 3_600_000,
  ...extra,
});

describe('review (issue 11): legacy adoption under attack', () => {
  afterEach(closeClients);

  it('maxSessions 2 "reject": 8 concurrent adoptions and logins of one user leave at most 2 live sessions', async () => {
    const t = makeApp({ registry: true, maxSessions: 2, sessionLimitPolicy: 'reject', legacy: LEGACY });
    const sids = await Promise.all(Array.from({ length: 6 }, () => plant(t, fresh('alice'))));
    const results = await Promise.all([
      ...sids.map((sid) => t.agent().get('/whoami').set('Cookie', signedCookie(sid))),
      t.agent().post('/login?user=alice'),
      t.agent().post('/login?user=alice'),
    ]);
    let live = 0;
    for (const r of results) {
      const c = captured(r);
      if (c && (await signedInAs(t, c)) === 'alice') live++;
    }
    expect(live).to.be.at.most(2);
    expect((await t.sessions.list('alice')).length).to.be.at.most(2);
  });

  it('maxSessions 2 "evict-oldest": concurrent adoptions end within the limit', async () => {
    const t = makeApp({ registry: true, maxSessions: 2, legacy: LEGACY });
    const sids = await Promise.all(Array.from({ length: 10 }, () => plant(t, fresh('alice'))));
    const results = await Promise.all(
      sids.map((sid) => t.agent().get('/whoami').set('Cookie', signedCookie(sid))),
    );
    let live = 0;
    for (const r of results) {
      const c = captured(r);
      if (c && (await signedInAs(t, c)) === 'alice') live++;
    }
    expect(live).to.be.at.most(2);
  });

  it('a legacy session saved before rotate is not adopted; one presented concurrently twice is adopted once', async () => {
    const t = makeApp({ legacy: LEGACY });
    const before = await plant(t, {
      userId: 'alice',
      _expire: Date.now() + 3_000_000,
      _maxAge: 3_600_000 - 1000,
    });
    await new Promise((r) => setTimeout(r, 5));
    await t.sessions.rotate('alice');
    const res = await t.agent().get('/whoami').set('Cookie', signedCookie(before)).expect(200);
    expect(res.body.userId).to.equal(null);
    const twice = await plant(t, fresh('bob', { secret: 'bobs' }));
    const [a, b] = await Promise.all([
      t.agent().get('/whoami').set('Cookie', signedCookie(twice)),
      t.agent().get('/whoami').set('Cookie', signedCookie(twice)),
    ]);
    const users = [a.body.userId, b.body.userId].filter(Boolean);
    expect(users).to.deep.equal(['bob']);
  });

  it('an expired legacy session (by _expire) is not adopted, whatever its Redis TTL', async () => {
    const t = makeApp({ legacy: LEGACY });
    const sid = await plant(t, { userId: 'alice', _expire: Date.now() - 1, _maxAge: 1000 });
    const res = await t.agent().get('/whoami').set('Cookie', signedCookie(sid)).expect(200);
    expect(res.body.userId).to.equal(null);
  });

  for (const [label, data] of [
    ['without _expire (2 s of Redis TTL left)', () => ({ userId: 'alice' })],
    ['with _expire 2 s away', () => ({ userId: 'alice', _expire: Date.now() + 2_000, _maxAge: 3_600_000 })],
  ] as const) {
    it(`a legacy session ${label} keeps its remaining lifetime when adopted`, async () => {
      const t = makeApp({ legacy: LEGACY, maxAge: 3_600_000 });
      const sid = await plant(t, data(), 2_000);
      const res = await t.agent().get('/whoami').set('Cookie', signedCookie(sid)).expect(200);
      expect(res.body.userId).to.equal('alice');
      const key = (await t.redis.keys('sess:{YWxpY2U}:*:*'))[0]!;
      expect(await t.redis.pttl(key), 'ms left on the adopted session').to.be.at.most(2_000);
    });
  }
});
