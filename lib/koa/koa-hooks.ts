// Two things koa-session decides that the store must know of: `ctx.session = null`, and a running regenerate().
import type Koa from 'koa';
import type { Context } from 'koa';
import { stateOf } from '../core/state.js';

type CommitOptions = { save?: boolean; regenerate?: boolean };
type ContextSession = { commit(options?: CommitOptions): Promise<void> };

/**
 * Wraps koa-session's `ctx.session` setter once per app, so that `ctx.session = null` is known to
 * the store: a new object assigned afterwards must not continue the signed-in session under its
 * key (it becomes an anonymous session), and `login` still ends the session the request presented.
 * Returns a per-request hook that marks koa-session's regenerate() while it runs, so the store can
 * replace a signed-in session's key in one atomic step instead of a destroy and a separate create
 * (between which a concurrent login would see a free slot under maxSessions). Both rely on
 * koa-session 7's context layout; test/unit/koa-hooks.test.ts fails if a new version moves it.
 */
export function watchKoaSession(app: Koa): (ctx: Context) => void {
  const context = app.context as object;
  const descriptor = Object.getOwnPropertyDescriptor(context, 'session');
  if (descriptor?.set && descriptor.get && !(descriptor.set as { watched?: boolean }).watched) {
    const { get, set } = descriptor;
    const watchedSet = function (this: Context, value: unknown) {
      if (value === null) stateOf(this).nulled = true;
      set.call(this, value);
    };
    Object.defineProperty(watchedSet, 'watched', { value: true });
    Object.defineProperty(context, 'session', { ...descriptor, get, set: watchedSet });
  }
  const contextSession = Object.getOwnPropertySymbols(context).find(
    (symbol) => symbol.description === 'get contextSession',
  );
  if (contextSession === undefined) return () => {};
  return (ctx) => {
    const session = (ctx as unknown as Record<symbol, ContextSession>)[contextSession];
    if (session === undefined || Object.hasOwn(session, 'commit')) return;
    const commit = session.commit;
    session.commit = async function (this: ContextSession, options?: CommitOptions) {
      if (!options?.regenerate) return commit.call(this, options);
      const state = stateOf(ctx);
      state.regenerating = true;
      try {
        return await commit.call(this, options);
      } finally {
        state.regenerating = false;
      }
    };
  };
}
