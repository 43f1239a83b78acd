// From the adversarial review of the fast path (issue 11 and 13): each case failed before its fix.
// Attack: `ctx.session = null` (sign out), then a new object with the same data, then regenerate().
// The store treats the regenerate as a re-key of the signed-in session the request nulled.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, cookieValue, makeApp, type TestApp } from '../support/app.js';
import { captured, replay, signedInAs } from '../support/replay.js';

type Handler = (ctx: Context, t: TestApp) => Promise<void> | void;
const routes: Record<string, Handler> = {
  // "sign out but keep the cart, under a fresh id"
  'POST /signout-keep-cart': async (ctx) => {
    const cart = ctx.session!.cart;
    ctx.session = null;
    ctx.session = cart === undefined ? {} : { cart };
    await ctx.session!.regenerate();
  },
  // a session holding no data (identity lives in the key): the common signed-in case
  'POST /reset': async (ctx) => {
    void ctx.session;
    ctx.session = null;
    ctx.session = {};
    await ctx.session!.regenerate();
  },
  // control: different data, so koa-session saves again at the end of the request
  'POST /null-flash-regenerate': async (ctx) => {
    void ctx.session;
    ctx.session = null;
    ctx.session = { flash: 'signed out' };
    await ctx.session!.regenerate();
  },
};

for (const config of [{}, { registry: true }]) {
  describe(`review (issue 11), invariants 2 and 6: ctx.session = null, new object, regenerate() ${JSON.stringify(config)}`, () => {
    afterEach(closeClients);
    for (const [route, withCart] of [
      ['/signout-keep-cart', true],
      ['/reset', false],
      ['/null-flash-regenerate', false],
    ] as const) {
      it(`${route}: the cookie issued after ctx.session = null is not signed in`, async () => {
        const t = makeApp(config, routes);
        const agent = t.agent();
        const login = await agent.post('/login?user=alice').expect(200);
        let cookie = captured(login)!;
        if (withCart) cookie = captured(await agent.post('/set?cart=book').expect(200))!;
        expect(await signedInAs(t, cookie)).to.equal('alice');

        const out = await t.agent().post(route).set('Cookie', cookie).expect(200);
        expect(out.body.userId, 'the response itself says signed out').to.equal(null);
        const next = captured(out);
        expect(next, 'a cookie is issued').to.be.a('string');
        const r = await replay(t, next!);
        expect(r.userId, `the cookie issued after ctx.session = null (${cookieValue(out)}) reaches`).to.equal(
          null,
        );
        expect(await signedInAs(t, cookie), 'the old cookie').to.equal(null);
      });
    }
  });
}
