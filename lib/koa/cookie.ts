// Reading and writing the session cookie ourselves, through koa-session's externalKey hook.
import type { Context } from 'koa';
import type { cookieOptions } from '../core/options.js';
import { isRefused, stateOf } from '../core/state.js';
import { signedCookieReader } from './signed-cookie.js';
import { COOKIE_SLACK } from './store.js';

/**
 * koa-session's save() clears `sessionOptions.maxAge` when it is 'session', so a second save in
 * one request (a regenerate, then a change) would turn a browser-session cookie into a one-day
 * one. Writing the cookie here keeps every save of a request alike, puts 'session' back for the
 * next one, and makes the cookie end exactly when the store ends the session.
 */
export function sessionCookie(cookie: ReturnType<typeof cookieOptions>) {
  const { key, maxAge: _default, rolling: _rolling, renew: _renew, ...attributes } = cookie;
  const readSigned = signedCookieReader(key);
  return {
    get: (ctx: Context): string => {
      if (!attributes.signed) {
        const value = ctx.cookies.get(key, { signed: false }) ?? '';
        stateOf(ctx).cookieAsSent = value;
        return value;
      }
      const cookie = readSigned(ctx);
      if (cookie?.current) stateOf(ctx).cookieAsSent = cookie.value;
      return cookie?.value ?? '';
    },
    set: (ctx: Context, value: string): void => {
      const state = stateOf(ctx);
      // Data koa-session saved under an ended key now lives under a new one: the cookie follows it.
      if (state.replacement?.from === value) value = state.replacement.to;
      // Nothing was stored under this key: its session was revoked, rotated away or reached its
      // lifetime while the request ran. The browser keeps the cookie it has, which names a dead
      // session (the next request hears why), or a newer one another request set meanwhile.
      if (isRefused(state, value)) {
        // Nor any session cookie set earlier in this response: koa-session's regenerate() clears
        // the cookie before the re-key is refused, and the reader may have re-signed the old value
        // under the app's first key. Either would replace that newer cookie.
        withdraw(ctx, [`${key}=`, `${key}.sig=`]);
        return;
      }
      const saved = state.savedMaxAge;
      const current = state.current;
      if (saved === 'session' && ctx.sessionOptions) ctx.sessionOptions.maxAge = 'session';
      // A save the store skipped (a rolling touch inside the touch window) of the session this
      // very cookie reached: the browser holds this value, and the end it would get is the one
      // the store still has. Sending it again cost a signature and two Set-Cookie headers on
      // every rolling request; it goes out again with the next real write, at most a touch window
      // (1 s) later. The companion cookie follows it, as it always does.
      if (
        value === state.touchSkipped &&
        value === state.cookieAsSent &&
        current?.key === value &&
        !current.written
      )
        return;
      // A cookie's expiry has whole seconds: rounded up, so it never ends before the session does.
      const lifetime =
        typeof saved !== 'number'
          ? {}
          : current?.key === value
            ? { expires: new Date(Math.ceil(current.expiresAt / 1000) * 1000) }
            : { maxAge: Math.max(saved - COOKIE_SLACK, 0) };
      ctx.cookies.set(key, value, { ...attributes, overwrite: true, ...lifetime });
    },
  };
}

/** Takes back the cookies this response was going to set with these prefixes (Koa has no call for it). */
function withdraw(ctx: Context, prefixes: string[]): void {
  const lines = ctx.response.get('Set-Cookie') as unknown;
  if (!Array.isArray(lines)) return;
  const kept = lines.filter((line: string) => !prefixes.some((prefix) => line.startsWith(prefix)));
  if (kept.length === lines.length) return;
  if (kept.length === 0) ctx.remove('Set-Cookie');
  else ctx.set('Set-Cookie', kept);
}
