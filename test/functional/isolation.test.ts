import { expect } from 'chai';
import { newSid, sessionHandle, userTag } from '../../lib/core/keys.js';
import { closeClients, cookieValue, makeApp } from '../support/app.js';
import { signedCookie } from '../support/cookies.js';
import { HOSTILE_IDS } from '../support/hostile-ids.js';
import { allKeys } from '../support/redis-view.js';

describe('isolation: a cookie reaches only its own session (invariants 5 and 8)', () => {
  afterEach(closeClients);

  it("user A's cookie with user B's id put in, correctly signed, gives an anonymous session", async () => {
    const t = makeApp();
    const alice = t.agent();
    const bob = t.agent();
    const a = cookieValue(await alice.post('/login?user=alice').expect(200))!;
    const b = cookieValue(await bob.post('/login?user=bob').expect(200))!;
    await bob.post('/set?secret=bobs').expect(200);
    const [aliceTag, aliceEpoch, aliceSid] = a.split('.');
    const [bobTag, bobEpoch, bobSid] = b.split('.');

    for (const forged of [
      `${bobTag}.${bobEpoch}.${aliceSid}`,
      `${bobTag}.${aliceEpoch}.${aliceSid}`,
      `${userTag('alice')}.${aliceEpoch}.${bobSid}`,
      `${aliceTag}.${bobEpoch}.${bobSid}`,
      `${bobTag}.${aliceSid}`,
      bobSid!,
      aliceSid!,
    ]) {
      const res = await t.agent().get('/whoami').set('Cookie', signedCookie(forged)).expect(200);
      expect(res.body).to.deep.include({ userId: null, data: {} }, forged);
    }
  });

  it('a tampered value or signature gives a fresh anonymous session, never a 500', async () => {
    const t = makeApp();
    const agent = t.agent();
    const value = cookieValue(await agent.post('/login?user=carl').expect(200))!;
    const good = signedCookie(value);
    const cases = [
      good.replace(/sid\.sig=[^;]*/, 'sid.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA'),
      `sid=${value}`,
      `sid=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}; ${good.split('; ')[1]}`,
      signedCookie('garbage'),
      signedCookie('*'),
      signedCookie("{x}.'; redis.call('FLUSHALL') --"),
      signedCookie('a'.repeat(8_000)),
      'sid=%E0%A4%A; sid.sig=%%%',
    ];
    for (const cookie of cases) {
      const res = await t.agent().get('/whoami').set('Cookie', cookie);
      expect(res.status).to.equal(200, cookie);
      expect(res.body).to.deep.include({ userId: null, data: {} });
    }
    expect((await agent.get('/whoami')).body.userId).to.equal('carl');
  });

  it('a well-formed sid that was never issued reaches nothing', async () => {
    const t = makeApp();
    await t.agent().post('/login?user=dora').expect(200);
    const res = await t
      .agent()
      .get('/whoami')
      .set('Cookie', signedCookie(`${userTag('dora')}.${newSid(Date.now())}`));
    expect(res.body.userId).to.equal(null);
  });

  it('hostile user ids sign in side by side without colliding or leaving their hash slot', async () => {
    const t = makeApp({ registry: true });
    const agents = [];
    for (const id of HOSTILE_IDS) {
      const agent = t.agent();
      const res = await agent.post('/login').type('text').send(id).expect(200);
      expect(res.body.userId).to.equal(id);
      await agent.post(`/set?me=${encodeURIComponent(id.slice(0, 100))}`).expect(200);
      agents.push({ id, agent });
    }
    for (const { id, agent } of agents) {
      expect((await agent.get('/whoami')).body).to.deep.include({
        userId: id,
        data: { me: id.slice(0, 100) },
      });
      expect(await t.sessions.list(id)).to.have.length(1);
    }
    // Every key of one user shares the hash tag, so one Cluster slot.
    for (const key of await allKeys(t.redis, 'sess:{*')) {
      const tag = key.slice(key.indexOf('{') + 1, key.indexOf('}'));
      expect(tag).to.match(/^(~[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{1,80})$/);
    }
    expect(await t.sessions.rotate(HOSTILE_IDS[0]!)).to.equal(true);
    expect((await agents[0]!.agent.get('/whoami')).body.userId).to.equal(null);
    expect((await agents[1]!.agent.get('/whoami')).body.userId).to.equal(HOSTILE_IDS[1]);
  });

  it('Redis only ever holds session handles, never the sid a cookie carries', async () => {
    const t = makeApp({ registry: true });
    const value = cookieValue(await t.agent().post('/login?user=eve').expect(200))!;
    // The cookie is `<tag>.<epoch>.<sid>`: the epoch names the key (by design), the sid never does.
    const sid = value.split('.')[2]!;
    const keys = await allKeys(t.redis, '*');
    expect(keys.join(' ')).to.not.include(sid);
    expect(keys.some((k) => k.endsWith(sessionHandle(sid)))).to.equal(true);
    const listed = await t.sessions.list('eve');
    expect(listed[0]!.id).to.equal(sessionHandle(sid));
    const replay = await t
      .agent()
      .get('/whoami')
      .set('Cookie', signedCookie(`${userTag('eve')}.${value.split('.')[1]}.${listed[0]!.id}`));
    expect(replay.body.userId).to.equal(null, 'a handle from list() is no cookie');
  });
});
