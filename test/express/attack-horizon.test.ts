// Attack on the horizon writes through express-session: cookie.maxAge moves, rolling touches, regenerate, destroy.
import { expect } from 'chai';
import type { Request } from 'express';
import { clearOfMinuteBoundary } from '../support/minute.js';
import { allKeys } from '../support/redis-view.js';
import { captured, closeClients, type ExpressTestApp, Gate, makeExpressApp, signedInAs } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const tagOf = (user: string) => Buffer.from(user).toString('base64url');

const extra = {
  /** Loads the session, waits, then moves cookie.maxAge (or only touches) and changes data. */
  'POST /hold-age': async (req: Request, _res: unknown, t: ExpressTestApp) => {
    await t.gates.get(String(req.query.gate))!.pass();
    if (req.query.ms !== undefined) req.session.cookie.maxAge = Number(req.query.ms);
    if (req.query.then === 'destroy')
      await new Promise<void>((r, j) => req.session.destroy((e) => (e ? j(e) : r())));
    else if (req.query.then === 'regenerate')
      await new Promise<void>((r, j) => req.session.regenerate((e) => (e ? j(e) : r())));
    else (req.session as any).late = Date.now();
  },
};

async function hold(t: ExpressTestApp, cookie: string, query: string, userAgent = 'ua-one') {
  const gate = new Gate();
  const name = String(Math.random());
  t.gates.set(name, gate);
  const response = t
    .agent()
    .post(`/hold-age?gate=${name}&${query}`)
    .set('Cookie', cookie)
    .set('User-Agent', userAgent)
    .then((r) => r);
  await gate.arrived;
  return { gate, response };
}

describe('attack: express-session horizon writes', () => {
  afterEach(closeClients);

  it('probe: concurrent requests moving cookie.maxAge up and down (rolling) never leave a session outliving its epoch key, registry or device hash', async () => {
    const t = makeExpressApp({ maxAge: HOUR, registry: true, rolling: true }, extra);
    const cookie = captured(
      await t.agent().post('/login?user=erin').set('User-Agent', 'ua-one').expect(200),
    )!;
    const ages = [30 * DAY, HOUR, 1_000, 7 * DAY, 60_000, 90_000, 59_000, 2 * DAY];
    for (let round = 0; round < 5; round++) {
      const holds = [];
      for (let i = 0; i < 3; i++)
        holds.push(await hold(t, cookie, `ms=${ages[(round + i) % ages.length]}`, `ua-${i % 2}`));
      for (const h of holds.reverse()) {
        h.gate.release();
        await h.response;
      }
      const tag = tagOf('erin');
      const keys = (await allKeys(t.redis, `sess:{${tag}}:*:*`)).filter((k) => !/:[xml]:/.test(k));
      const [epochTtl, registryTtl, devicesTtl] = await Promise.all([
        t.redis.pttl(`sess:{${tag}}:e`),
        t.redis.pttl(`sess:{${tag}}:r`),
        t.redis.pttl(`sess:{${tag}}:d`),
      ]);
      for (const key of keys) {
        const ttl = await t.redis.pttl(key);
        expect(epochTtl, `round ${round}: epoch`).to.be.at.least(ttl);
        expect(registryTtl, `round ${round}: registry`).to.be.at.least(ttl);
        expect(devicesTtl, `round ${round}: devices`).to.be.at.least(ttl);
      }
      expect(await signedInAs(t, cookie)).to.equal('erin');
    }
  });

  for (const then of ['set', 'regenerate', 'destroy'] as const) {
    for (const revocation of ['rotate', 'logout', 'logoutOthers'] as const) {
      it(`probe: a held ${then} (same minute) completing after ${revocation} brings nothing back`, async () => {
        await clearOfMinuteBoundary();
        const t = makeExpressApp({ maxAge: HOUR, registry: true }, extra);
        const cookie = captured(await t.agent().post('/login?user=finn').expect(200))!;
        const other = t.agent();
        await other.post('/login?user=finn').expect(200);
        const held = await hold(t, cookie, `ms=${HOUR - 5_000}&then=${then}`);
        if (revocation === 'rotate') await t.sessions.rotate('finn');
        if (revocation === 'logout') await t.agent().post('/logout').set('Cookie', cookie).expect(200);
        if (revocation === 'logoutOthers') await other.post('/logout-others').expect(200);
        held.gate.release();
        const res = await held.response;
        expect(res.status).to.be.lessThan(500);
        expect(await signedInAs(t, cookie)).to.equal(null);
        const next = captured(res);
        if (next) expect(await signedInAs(t, next)).to.equal(null);
      });
    }
  }

  it('registry: a covered write from device A after device B rewrote the session and list() pruned A keeps the device list describing the session', async () => {
    await clearOfMinuteBoundary();
    const t = makeExpressApp({ maxAge: HOUR, registry: true }, extra);
    const cookie = captured(await t.agent().post('/login?user=gus').set('User-Agent', 'ua-one').expect(200))!;
    const a = await hold(t, cookie, '');
    await t.agent().post('/set?y=1').set('Cookie', cookie).set('User-Agent', 'ua-two').expect(200);
    expect((await t.sessions.list('gus')).map((s) => s.userAgent)).to.deep.equal(['ua-two']);
    a.gate.release();
    expect((await a.response).status).to.equal(200);
    const [listed] = await t.sessions.list('gus');
    expect(listed!.userAgent, 'the live session names a device the hash no longer holds').to.equal('ua-one');
  });
});
