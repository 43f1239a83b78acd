// Typed access to what the demo keeps in koa-session's data (the CSRF token, a flash message) and its lifetime.
import type { Context } from 'koa';

export interface Flash {
  kind: 'success' | 'info' | 'error';
  text: string;
}

type SessionObject = Record<string, unknown>;

/** koa-session's `ctx.session`: an object, or null once the request signed out. */
export function sessionOf(ctx: Context): SessionObject | null {
  return (ctx.session as SessionObject | null | undefined) ?? null;
}

/** A message for the next page this device shows (after a redirect). */
export function setFlash(ctx: Context, flash: Flash): void {
  const session = sessionOf(ctx);
  if (session) session.flash = flash;
}

export function takeFlash(ctx: Context): Flash | undefined {
  const session = sessionOf(ctx);
  const flash = session?.flash as Flash | undefined;
  if (!session || flash === undefined) return undefined;
  delete session.flash;
  return typeof flash?.text === 'string' ? flash : undefined;
}

/**
 * The lifetime this session was signed in with: `'session'` for a browser-session cookie, or ms
 * ("Remember me"). koa-session keeps it in `ctx.sessionOptions` and saves it with the data, so it
 * is known on every request.
 */
export function sessionLifetime(ctx: Context): number | 'session' | undefined {
  const maxAge: unknown = ctx.sessionOptions?.maxAge;
  return maxAge === 'session' || (typeof maxAge === 'number' && maxAge > 0) ? maxAge : undefined;
}
