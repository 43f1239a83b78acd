// From the adversarial review of the fast path (issue 11 and 13): each case failed before its fix.
// Invariant 2 (and 5): a request that loaded alice's session before a revocation, whose own write was then
// refused (so the store marks the key ended and forgets it), then signs in: login() no longer sees alice's
// session as held, treats the data in ctx.session as anonymous data, and carries the revoked session's data
// into the new session, even into another user's account.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, Gate, makeApp, type TestApp } from '../support/app.js';
import { captured, replay } from '../support/replay.js';

type Handler = (ctx: Context, t: TestApp) => Promise<void> | void;
const routes: Record<string, Handler> = {
  'POST /hold-save-login': async (ctx, t) => {
    void ctx.session;
    await t.gates.get('g')!.pass();
    ctx.session!.attempts = Number(ctx.session!.attempts ?? 0) + 1;
    await ctx.session!.save(); // refused: the session was revoked meanwhile
    ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user));
  },
  // No manual save: a regenerate refused because the session was revoked, then a login.
  'POST /hold-regenerate-login': async (ctx, t) => {
    void ctx.session;
    await t.gates.get('g')!.pass();
    await ctx.session!.regenerate();
    ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user));
  },
};

describe('review (issue 11), invariants 2 and 5: login after a refused write', () => {
  afterEach(closeClients);

  for (const [label, config] of [
    ['plain', {}],
    ['registry', { registry: true }],
  ] as const) {
    for (const revocation of ['rotate', 'logout'] as const) {
      for (const user of ['alice', 'mallory'])
        for (const route of ['/hold-save-login', '/hold-regenerate-login']) {
          it(`${label}, ${revocation}, ${route}: login(ctx, '${user}') after a refused write carries none of alice's revoked data`, async () => {
            const t = makeApp(config, routes);
            const alice = t.agent();
            const login = await alice.post('/login?user=alice').expect(200);
            const stolen =
              captured(await alice.post('/set?secret=alice-bank-token').expect(200)) ?? captured(login)!;
            const gate = new Gate();
            t.gates.set('g', gate);
            const pending = t
              .agent()
              .post(`${route}?user=${user}`)
              .set('Cookie', stolen)
              .then((r) => r);
            await gate.arrived;
            if (revocation === 'rotate') await t.sessions.rotate('alice');
            else await alice.post('/logout').expect(200);
            gate.release();
            const res = await pending;
            expect(res.status, JSON.stringify(res.body)).to.equal(200);
            const issued = captured(res)!;
            const r = await replay(t, issued);
            expect(r.userId).to.equal(user);
            expect(JSON.stringify(r.data), `${user}'s new session`).to.not.include('alice-bank-token');
          });
        }
    }
  }
});
