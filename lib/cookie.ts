// Writing the session cookie ourselves, through koa-session's externalKey hook.
import type { Context } from 'koa';
import type { cookieOptions } from './options.js';
import { stateOf } from './state.js';
import { COOKIE_SLACK } from './store.js';

/**
 * koa-session's save() clears `sessionOptions.maxAge` when it is 'session', so a second save in
 * one request (a regenerate, then a change) would turn a browser-session cookie into a one-day
 * one. Writing the cookie here, from the maxAge the store was just given for this very save,
 * keeps every save of a request alike, and puts 'session' back for the next one.
 */
export function sessionCookie(cookie: ReturnType<typeof cookieOptions>) {
  const { key, maxAge: _default, rolling: _rolling, renew: _renew, ...attributes } = cookie;
  return {
    get: (ctx: Context): string => ctx.cookies.get(key, { signed: attributes.signed }) ?? '',
    set: (ctx: Context, value: string): void => {
      const saved = stateOf(ctx).savedMaxAge;
      // The store keeps COOKIE_SLACK longer than the cookie, as koa-session asked it to.
      const lifetime = typeof saved === 'number' ? { maxAge: Math.max(saved - COOKIE_SLACK, 0) } : {};
      ctx.cookies.set(key, value, { ...attributes, overwrite: true, ...lifetime });
      if (saved === 'session' && ctx.sessionOptions) ctx.sessionOptions.maxAge = 'session';
    },
  };
}
