import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import Koa from 'koa';
import { stateOf } from '../../lib/core/state.js';
import { createSessions } from '../../lib/index.js';

/**
 * lib/koa/koa-hooks.ts relies on two details of koa-session 7: `ctx.session` is an accessor on the
 * app's context, and the per-request ContextSession (behind the 'get contextSession' symbol) has
 * the commit() that regenerate() calls. If a new koa-session moves either, this fails first.
 */
describe('koa-session hooks (unit)', () => {
  it('finds what it relies on in koa-session: the session accessor and the per-request commit', async () => {
    const app = new Koa();
    app.keys = ['k'];
    const redis = new Redis({ lazyConnect: true });
    try {
      const sessions = createSessions(app, { redis });
      const descriptor = Object.getOwnPropertyDescriptor(app.context, 'session');
      expect((descriptor?.set as { watched?: boolean } | undefined)?.watched).to.equal(true);
      const symbol = Object.getOwnPropertySymbols(app.context).find(
        (s) => s.description === 'get contextSession',
      );
      expect(symbol, 'the ContextSession symbol').to.not.equal(undefined);

      const req = new IncomingMessage(new Socket());
      const ctx = app.createContext(req, new ServerResponse(req));
      let regenerating: boolean | undefined;
      const contextSession = (ctx as unknown as Record<symbol, object>)[symbol!]!;
      expect(Object.getPrototypeOf(contextSession).commit).to.be.a('function');
      // regenerate() destroys the old key through the store: see what the store sees then.
      const destroy = sessions.store.destroy.bind(sessions.store);
      sessions.store.destroy = async (key, options) => {
        regenerating = stateOf(ctx).regenerating;
        return destroy(key, options);
      };
      await sessions.middleware(ctx, async () => {
        expect(Object.hasOwn(contextSession, 'commit'), 'commit wrapped for this request').to.equal(true);
        void ctx.session;
        await ctx.session!.regenerate();
      });
      expect(regenerating, 'state.regenerating while regenerate() commits').to.equal(true);
      expect(stateOf(ctx).regenerating).to.equal(false);

      ctx.session = null;
      expect(stateOf(ctx).nulled, 'ctx.session = null is seen').to.equal(true);
    } finally {
      redis.disconnect();
    }
  });
});
