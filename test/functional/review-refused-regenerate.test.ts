// From the docs review (issue 11): regenerate() after a refused write must not move the revoked data to a new session.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, Gate, makeApp, type TestApp } from '../support/app.js';

const routes = {
  'POST /hold-save-regenerate': async (ctx: Context, t: TestApp) => {
    void ctx.session;
    await t.gates.get('g')!.pass();
    ctx.session!.note = 'changed after the revocation';
    await ctx.session!.save();
    await ctx.session!.regenerate();
  },
};

describe('review (issue 11), invariant 2: regenerate() after a refused write', () => {
  afterEach(closeClients);
  for (const revocation of ['logout', 'revoke'] as const) {
    it(`after a ${revocation} elsewhere, the revoked data reaches no new cookie`, async () => {
      const t = makeApp({ registry: true }, routes);
      const agent = t.agent();
      await agent.post('/login?user=ann').expect(200);
      await agent.post('/set?secret=ann-bank-token').expect(200);
      const thief = t.agent();
      const cookie = (await agent.get('/whoami')).request.cookies;
      const gate = new Gate();
      t.gates.set('g', gate);
      const held = thief
        .post('/hold-save-regenerate')
        .set('Cookie', cookie)
        .then((r) => r);
      await gate.arrived;
      if (revocation === 'logout') await agent.post('/logout').expect(200);
      else await t.sessions.revoke('ann', (await t.sessions.list('ann'))[0]!.id);
      gate.release();
      await held;
      const after = await thief.get('/whoami').expect(200);
      expect(JSON.stringify(after.body)).to.not.include('ann-bank-token');
      expect(after.body.userId).to.equal(null);
    });
  }
});
