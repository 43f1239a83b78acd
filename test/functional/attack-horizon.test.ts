// Attack on the horizon writes: a signed-in update covered by the horizon it read is one SET … XX.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, Gate, makeApp, type TestApp } from '../support/app.js';
import { clearOfMinuteBoundary } from '../support/minute.js';
import { allKeys } from '../support/redis-view.js';
import { captured, signedInAs } from '../support/replay.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const tagOf = (user: string) => Buffer.from(user).toString('base64url');

/** The user's live session keys (not reasons or forwarding keys) and their PTTLs. */
async function sessionTtls(t: TestApp, user: string): Promise<number[]> {
  const keys = (await allKeys(t.redis, `sess:{${tagOf(user)}}:*:*`)).filter((k) => !/:[xml]:/.test(k));
  return Promise.all(keys.map((k) => t.redis.pttl(k)));
}

/** Away from a minute boundary, so that a write made now ends in the same minute as one made just before. */
const routes = {
  'POST /remember': async (ctx: Context, t: TestApp) => {
    const maxAge = ctx.query.maxAge === 'session' ? 'session' : Number(ctx.query.maxAge);
    ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user), { maxAge });
  },
  'POST /max-age': (ctx: Context) => {
    ctx.session!.maxAge = ctx.query.maxAge === 'session' ? 'session' : Number(ctx.query.maxAge);
    ctx.session!.n = Number(ctx.session!.n ?? 0) + 1;
  },
  /** Loads the session, waits at the gate, then changes its lifetime (or just its data). */
  'POST /hold-max-age': async (ctx: Context, t: TestApp) => {
    const gate = t.gates.get(String(ctx.query.gate))!;
    void ctx.session;
    await gate.pass();
    if (ctx.query.maxAge !== undefined) ctx.session!.maxAge = Number(ctx.query.maxAge);
    ctx.session!.late = 'after';
  },
};

async function holding(t: TestApp, cookie: string, path: string, userAgent = 'ua-one') {
  const gate = new Gate();
  const name = String(Math.random());
  t.gates.set(name, gate);
  const sep = path.includes('?') ? '&' : '?';
  const response = t
    .agent()
    .post(`${path}${sep}gate=${name}`)
    .set('Cookie', cookie)
    .set('User-Agent', userAgent)
    .then((r) => r);
  await gate.arrived;
  return { gate, response };
}

describe('attack: horizon writes (one SET … XX when the new end is in the same minute)', () => {
  afterEach(closeClients);

  it('registry: a covered write from a request that read device A, after device B rewrote the session and list() pruned A, leaves the device list describing the session', async () => {
    await clearOfMinuteBoundary();
    const t = makeApp({ maxAge: HOUR, registry: true }, routes);
    const cookie = captured(
      await t.agent().post('/login?user=alice').set('User-Agent', 'ua-one').expect(200),
    )!;
    // Request A reads the session (device ua-one) and is held.
    const a = await holding(t, cookie, '/hold-max-age');
    // Request B, same cookie, another device: a new device, so the writeUser script runs.
    await t.agent().post('/set?y=1').set('Cookie', cookie).set('User-Agent', 'ua-two').expect(200);
    // The device list prunes device records no listed session refers to: ua-one goes.
    const before = await t.sessions.list('alice');
    expect(before.map((s) => s.userAgent)).to.deep.equal(['ua-two']);
    // A completes: same device as it read, same minute: a native SET of a value naming ua-one.
    a.gate.release();
    expect((await a.response).status).to.equal(200);
    const after = await t.sessions.list('alice');
    expect(after).to.have.length(1);
    expect(after[0]!.userAgent, 'the live session names a device the hash no longer holds').to.equal(
      'ua-one',
    );
  });

  it('probe: concurrent requests of one session moving maxAge up and down never leave a session outliving its epoch key, registry or device hash', async () => {
    const t = makeApp({ maxAge: HOUR, registry: true, rolling: true }, routes);
    const cookie = captured(
      await t
        .agent()
        .post(`/remember?user=bob&maxAge=${30 * DAY}`)
        .set('User-Agent', 'ua-one')
        .expect(200),
    )!;
    const ages = [30 * DAY, HOUR, 2 * DAY, 1_000, 7 * DAY, 60_000, 90_000, 120_000, 59_000];
    for (let round = 0; round < 6; round++) {
      const holds = await Promise.all(
        ages
          .slice(0, 3)
          .map((_, i) =>
            holding(t, cookie, `/hold-max-age?maxAge=${ages[(round + i) % ages.length]}`, `ua-${i % 2}`),
          ),
      );
      // Release in an order that lets the shortest write land last.
      for (const h of holds.reverse()) {
        h.gate.release();
        await h.response;
      }
      const ttls = await sessionTtls(t, 'bob');
      const tag = tagOf('bob');
      const [epochTtl, registryTtl, devicesTtl] = await Promise.all([
        t.redis.pttl(`sess:{${tag}}:e`),
        t.redis.pttl(`sess:{${tag}}:r`),
        t.redis.pttl(`sess:{${tag}}:d`),
      ]);
      for (const ttl of ttls) {
        expect(epochTtl, `round ${round}: epoch key`).to.be.at.least(ttl);
        expect(registryTtl, `round ${round}: registry`).to.be.at.least(ttl);
        expect(devicesTtl, `round ${round}: device hash`).to.be.at.least(ttl);
      }
      expect(await signedInAs(t, cookie)).to.equal('bob');
      expect(await t.sessions.list('bob')).to.have.length(1);
    }
  });

  for (const revocation of ['rotate', 'logout', 'revoke', 'logoutOthers', 'epoch-evicted'] as const) {
    it(`probe: a covered write (same minute, shorter maxAge) held across ${revocation} does not bring the session back`, async () => {
      await clearOfMinuteBoundary();
      const t = makeApp({ maxAge: HOUR, registry: true }, routes);
      const other = t.agent();
      const cookie = captured(await t.agent().post('/login?user=carol').expect(200))!;
      const { id } = (await t.sessions.list('carol'))[0]!;
      await other.post('/login?user=carol').expect(200);
      const held = await holding(t, cookie, `/hold-max-age?maxAge=${HOUR - 5_000}`);
      if (revocation === 'rotate') await t.sessions.rotate('carol');
      if (revocation === 'logout') await t.agent().post('/logout').set('Cookie', cookie).expect(200);
      if (revocation === 'revoke') expect(await t.sessions.revoke('carol', id)).to.equal(true);
      if (revocation === 'logoutOthers') await other.post('/logout-others').expect(200);
      if (revocation === 'epoch-evicted') await t.redis.del(`sess:{${tagOf('carol')}}:e`);
      held.gate.release();
      const res = await held.response;
      expect(res.status).to.be.lessThan(500);
      expect(await signedInAs(t, cookie), 'the original cookie').to.equal(null);
      const next = captured(res);
      if (next) expect(await signedInAs(t, next), 'a cookie the late response set').to.equal(null);
      if (revocation === 'epoch-evicted') {
        expect(await t.redis.exists(`sess:{${tagOf('carol')}}:e`), 'no epoch key recreated').to.equal(0);
      }
    });
  }
});
