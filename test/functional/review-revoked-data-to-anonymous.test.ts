// From the adversarial review of the fast path (issue 11 and 13): each case failed before its fix.
// Attack (invariant 2): a request that loaded alice's session before a revocation saves twice
// (a manual ctx.session.save(), then koa-session's own commit). The first write is refused (the
// session was revoked) and marks the key ended; the second save of an "ended" key is treated like
// "logout, then a new object" and copies the whole revoked session's data into a NEW anonymous
// session, under a new cookie that the holder of the stolen cookie receives.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, Gate, makeApp, type TestApp } from '../support/app.js';
import { captured, replay } from '../support/replay.js';

type Handler = (ctx: Context, t: TestApp) => Promise<void> | void;
const routes: Record<string, Handler> = {
  'POST /hold-save': async (ctx, t) => {
    const gate = t.gates.get(String(ctx.query.gate))!;
    void ctx.session;
    await gate.pass();
    ctx.session!.visits = Number(ctx.session!.visits ?? 0) + 1;
    await ctx.session!.save(); // e.g. before streaming a response or a redirect
  },
};

describe('review (issue 11), invariant 2: a session revoked while a request holds it', () => {
  afterEach(closeClients);

  for (const [label, config] of [
    ['plain', {}],
    ['registry', { registry: true }],
  ] as const) {
    for (const revocation of ['rotate', 'revoke', 'logout'] as const) {
      it(`${label}: after ${revocation}, an invariant 2: an in-flight request's second save copies the revoked data nowhere`, async () => {
        const t = makeApp(config, routes);
        const alice = t.agent();
        const login = await alice.post('/login?user=alice').expect(200);
        const set = await alice.post('/set?secret=alice-bank-token').expect(200);
        const stolen = captured(set) ?? captured(login)!;
        const handle = login.body.login.sessionId as string;

        const gate = new Gate();
        t.gates.set('g', gate);
        const inflight = t
          .agent()
          .post('/hold-save?gate=g')
          .set('Cookie', stolen)
          .then((r) => r);
        await gate.arrived;
        if (revocation === 'rotate') await t.sessions.rotate('alice', { reason: 'password-changed' });
        if (revocation === 'revoke') expect(await t.sessions.revoke('alice', handle)).to.equal(true);
        if (revocation === 'logout') await alice.post('/logout').expect(200);
        gate.release();
        const res = await inflight;
        expect(res.status).to.equal(200);
        const next = captured(res);
        const after = next ? await replay(t, next) : undefined;
        console.log(
          `      in-flight response set ${next ? 'a new cookie' : 'no cookie'}; replayed:`,
          JSON.stringify(after?.body),
        );
        expect(
          JSON.stringify(after?.body ?? {}),
          'the cookie issued to the in-flight request, replayed later',
        ).to.not.include('alice-bank-token');
      });
    }
  }
});
