// The functional suite's fail-closed, isolation and expired-replay tests on an Express app (invariants 2, 3, 5 and 8).
import { expect } from 'chai';
import { newSid, userTag } from '../../lib/core/keys.js';
import { HOSTILE_IDS } from '../support/hostile-ids.js';
import { allKeys } from '../support/redis-view.js';
import {
  captured,
  closeClients,
  cookieValue,
  makeExpressApp,
  replay,
  SECRET,
  signedCookie,
  sleep,
} from './support.js';

const tag = (id: string) => Buffer.from(id).toString('base64url');

describe('express: fail closed when the epoch key is lost (invariant 3)', () => {
  afterEach(closeClients);

  it('a deleted epoch key invalidates every session of the user, and a new login does not revive them', async () => {
    const t = makeExpressApp();
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=mia').expect(200);
    await phone.post('/login?user=mia').expect(200);
    await laptop.post('/set?cart=1').expect(200);
    const oldEpoch = (await t.redis.get(`sess:{${tag('mia')}}:e`))!;

    await t.redis.del(`sess:{${tag('mia')}}:e`);
    expect(await allKeys(t.redis, `sess:{${tag('mia')}}:${oldEpoch}:*`)).to.have.length(2);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null);
    expect((await phone.get('/whoami')).body.userId).to.equal(null);

    const again = t.agent();
    await again.post('/login?user=mia').expect(200);
    const newEpoch = (await t.redis.get(`sess:{${tag('mia')}}:e`))!;
    expect(newEpoch).to.not.equal(oldEpoch);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null, 'old sessions stay dead');
    expect((await phone.get('/whoami')).body.userId).to.equal(null);
    expect((await again.get('/whoami')).body.userId).to.equal('mia');
  });

  it('a late write from a session whose epoch key vanished does not recreate the epoch', async () => {
    const t = makeExpressApp({ rolling: true, resave: true });
    const agent = t.agent();
    await agent.post('/login?user=ned').expect(200);
    await t.redis.del(`sess:{${tag('ned')}}:e`);
    await agent.post('/set?x=1').expect(200);
    expect(await t.redis.exists(`sess:{${tag('ned')}}:e`)).to.equal(0);
  });
});

describe('express: a cookie reaches only its own session (invariants 5 and 8)', () => {
  afterEach(closeClients);

  it("user A's cookie with user B's parts put in, correctly signed, gives an anonymous session", async () => {
    const t = makeExpressApp();
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
    const t = makeExpressApp();
    const agent = t.agent();
    const value = cookieValue(await agent.post('/login?user=carl').expect(200))!;
    const good = signedCookie(value);
    const cases = [
      good.replace(/.{6}$/, 'AAAAAA'),
      `sid=${value}`,
      `sid=s%3A${value}`,
      signedCookie(value, 'sid', 'another secret'),
      signedCookie(`${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`, 'sid', 'x'),
      signedCookie('garbage'),
      signedCookie('*'),
      signedCookie("{x}.'; redis.call('FLUSHALL') --"),
      signedCookie('a'.repeat(8_000)),
      'sid=%E0%A4%A',
      'sid=s%3A%%%',
    ];
    for (const cookie of cases) {
      const res = await t.agent().get('/whoami').set('Cookie', cookie);
      expect(res.status).to.equal(200, cookie);
      expect(res.body).to.deep.include({ userId: null, data: {} });
    }
    expect((await agent.get('/whoami')).body.userId).to.equal('carl');
  });

  it('a well-formed sid that was never issued reaches nothing, and writes to it create nothing', async () => {
    const t = makeExpressApp();
    await t.agent().post('/login?user=dora').expect(200);
    const forged = `${userTag('dora')}.${newSid(Date.now())}`;
    const res = await t.agent().post('/set?x=1').set('Cookie', signedCookie(forged));
    expect(res.body.userId).to.equal(null);
    const anonymous = newSid(Date.now());
    await t.agent().get('/whoami').set('Cookie', signedCookie(anonymous)).expect(200);
    expect(await allKeys(t.redis, `sess:a:*`)).to.have.length(1, 'only the session the /set request created');
  });

  it('hostile user ids sign in side by side without colliding or leaving their hash slot', async () => {
    const t = makeExpressApp({ registry: true });
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
    expect(await t.sessions.rotate(HOSTILE_IDS[0]!)).to.equal(true);
    expect((await agents[0]!.agent.get('/whoami')).body.userId).to.equal(null);
    expect((await agents[1]!.agent.get('/whoami')).body.userId).to.equal(HOSTILE_IDS[1]);
  });

  it('the cookie is signed with the first secret, and an older secret still reads it', async () => {
    const old = makeExpressApp({ secret: 'old-secret' });
    const value = cookieValue(await old.agent().post('/login?user=sam').expect(200))!;
    const rotated = makeExpressApp({ secret: ['new-secret', 'old-secret'] });
    const res = await rotated
      .agent()
      .get('/whoami')
      .set('Cookie', signedCookie(value, 'sid', 'old-secret'));
    expect(res.body.userId).to.equal('sam');
    expect(SECRET).to.not.equal('old-secret');
  });
});

describe('express: expired cookies replayed (invariant 2, to the millisecond)', () => {
  afterEach(closeClients);

  const MAX_AGE = 100;
  for (const [name, config] of Object.entries({
    plain: {},
    rolling: { rolling: true },
    resave: { resave: true, rolling: true, registry: true, lastSeenInterval: 1 },
  })) {
    for (const kind of ['signed-in', 'anonymous'] as const) {
      it(`${kind === 'anonymous' ? 'an' : 'a'} ${kind} cookie replayed 41 times after its idle timeout (maxAge ${MAX_AGE} ms, ${name}) is never accepted nor made live again`, async () => {
        const t = makeExpressApp(
          { maxAge: MAX_AGE, ...config },
          {
            'POST /login-secret': async (req, _res, app) => {
              await app.sessions.login(req, 'alice');
              (req.session as any).secret = String(req.query.secret);
            },
          },
        );
        const secret = `expired-${kind}-${name}-marker`;
        const route = kind === 'signed-in' ? '/login-secret' : '/set';
        const started = Date.now();
        const res = await t.agent().post(`${route}?secret=${secret}`).expect(200);
        const cookie = captured(res);
        expect(cookie, 'the response set a session cookie').to.be.a('string');
        const live = await replay(t, cookie!);
        if (Date.now() - started < MAX_AGE / 2) expect(live.data).to.include({ secret });
        await sleep(2 * MAX_AGE);
        const check = (r: Awaited<ReturnType<typeof replay>>, i: number | string) => {
          expect(r.status, `replay ${i}`).to.equal(200);
          expect(r.userId, `replay ${i}`).to.equal(null);
          expect(JSON.stringify(r.body), `replay ${i}`).to.not.include(secret);
        };
        for (let i = 0; i < 20; i++) check(await replay(t, cookie!), i);
        const parallel = await Promise.all(Array.from({ length: 20 }, () => replay(t, cookie!)));
        for (const [i, r] of parallel.entries()) check(r, `parallel ${i}`);
        check(await replay(t, cookie!), 'after the replays');
      });
    }
  }
});
