// Type-level test, compiled by test/unit/types.test.ts: every @ts-expect-error must still be an error.
import { Redis } from 'ioredis';
import Koa from 'koa';
import session from 'koa-session';
import { createSessions, EpochStore, type SessionInfo } from '../../lib/index.js';

declare module '../../lib/index.js' {
  interface SessionData {
    basket?: string[];
  }
}

const app = new Koa();
app.keys = ['k'];
const redis = new Redis({ lazyConnect: true });

// The store and genid fit koa-session's own options when wired by hand.
const store = new EpochStore({ redis });
app.use(session({ store, genid: store.genid, key: 'sid' }, app));

const sessions = createSessions(app, { redis, maxAge: 5 * 24 * 3600_000, registry: true, maxSessions: 3 });
app.use(sessions.middleware);
app.use(async (ctx) => {
  const current = ctx.session;
  if (current) {
    current.basket = ['apple'];
    // @ts-expect-error basket is typed by the app's SessionData augmentation
    current.basket = 'apple';
    await current.regenerate();
    const plain: Record<string, unknown> = current.toJSON();
    void plain;
  }
  ctx.session = { basket: [] };
  ctx.session = null;
  const userId: string | undefined = sessions.userId(ctx);
  const devices: SessionInfo[] = await sessions.list(userId ?? '', ctx);
  const kept: boolean = await sessions.logoutOthers(ctx);
  void devices;
  void kept;
});

// @ts-expect-error maxAge is a number of ms or 'session'
createSessions(app, { redis, maxAge: '5d' });
// @ts-expect-error redis is required
createSessions(app, { maxAge: 1000 });
// @ts-expect-error the limit policy is 'evict-oldest' or 'reject'
createSessions(app, { redis, registry: true, maxSessions: 2, sessionLimitPolicy: 'drop' });
// @ts-expect-error sameSite is 'lax', 'strict' or 'none'
createSessions(app, { redis, sameSite: 'sometimes' });
// @ts-expect-error rotate takes an id, not a context
void sessions.rotate(app.createContext({} as never, {} as never));
