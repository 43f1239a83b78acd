// Attack (maxSessions + remember me): "evict-oldest" promises to end the least recently active session.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { captured, signedInAs, sleep } from '../support/replay.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const routes = {
  'POST /remember': async (ctx: Context, t: TestApp) => {
    const maxAge = ctx.query.maxAge === 'session' ? 'session' : Number(ctx.query.maxAge);
    ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user), { maxAge });
  },
};

describe('attack: evict-oldest with per-session lifetimes', () => {
  afterEach(closeClients);

  // docs/api.md: "'evict-oldest' ends the least recently active session"; design.md: "ends the
  // lowest scores (least recently active)". The score is the session's END, so a session with a
  // long lifetime ("remember me", the demo's 30 days) ranks as recently active forever.
  for (const lifetime of [String(30 * DAY), 'session'] as const) {
    it(`maxSessions 2 evict-oldest: an idle session signed in first with login maxAge ${lifetime === 'session' ? "'session'" : '30 days'} is the one evicted, not the newer, active one`, async () => {
      const t = makeApp(
        {
          maxAge: HOUR,
          browserSessionTtl: DAY,
          registry: true,
          maxSessions: 2,
          sessionLimitPolicy: 'evict-oldest',
        },
        routes,
      );
      // The oldest device: signed in first, never used again.
      const old = captured(await t.agent().post(`/remember?user=alice&maxAge=${lifetime}`).expect(200))!;
      await sleep(1_100);
      // A newer device, signed in later and active just now.
      const active = t.agent();
      await active.post('/login?user=alice').expect(200);
      await sleep(1_100);
      await active.post('/set?x=1').expect(200);
      expect((await active.get('/whoami')).body.userId).to.equal('alice');

      // A third sign-in: one of the two must go, and it must be the least recently active.
      const third = await t.agent().post('/login?user=alice').expect(200);
      expect(third.body.login.evicted).to.have.length(1);
      expect(
        (await active.get('/whoami')).body.userId,
        'the newer device that was active a moment ago is still signed in',
      ).to.equal('alice');
      expect(await signedInAs(t, old), 'the oldest, idle device was evicted').to.equal(null);
    });
  }
});
