// What every route needs: the app's services, and the guards that put the signed-in account on ctx.state.
import type { Redis } from 'ioredis';
import type { Context, Next } from 'koa';
import type { Sessions } from '../../lib/index.js';
import type { Account, Accounts, DemoAccount } from '../accounts.js';
import { csrfToken, verifyCsrf } from '../csrf.js';
import { type Form, readForm } from '../form.js';
import type { Notices } from '../notices.js';
import { sessionLifetime } from '../session-data.js';
import type { Throttle } from '../throttle.js';
import type { SessionClock, Viewer } from '../views/layout.js';

export interface DemoServices {
  /** The demo's own client: accounts, notices, throttle, and the raw session value the home page shows. */
  redis: Redis;
  sessions: Sessions;
  accounts: Accounts;
  notices: Notices;
  throttle: Throttle;
  settings: {
    companionCookie: string;
    statusPollMs: number;
    maxSessions: number;
    /** Lifetime of a sign-in without "Remember me", and its idle timeout in Redis, in ms. */
    idleMaxAge: number;
    /** Lifetime of a sign-in with "Remember me", in ms. */
    rememberMeMaxAge: number;
    /** How recent the last sign-in or password confirmation must be for a sensitive action, in ms. */
    freshForMs: number;
    /** Listed on the sign-in page. */
    demoAccounts: readonly DemoAccount[];
  };
}

/** Set by requireUser. */
export function viewerOf(ctx: Context): Viewer {
  const viewer = ctx.state.viewer as Viewer | undefined;
  if (!viewer) throw new Error('viewerOf() needs requireUser to run first');
  return viewer;
}

export function formOf(ctx: Context): Form {
  return ctx.state.form as Form;
}

/** For a 429: sets Retry-After and returns the sentence that says how long to wait. */
export function retryAfter(ctx: Context, blockedMs: number): string {
  ctx.set('Retry-After', String(Math.ceil(blockedMs / 1000)));
  const minutes = Math.ceil(blockedMs / 60_000);
  return `Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

/** Redirect after a POST with 303, so a reload never re-posts the form. */
export function seeOther(ctx: Context, path: string): void {
  ctx.redirect(path);
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') ctx.status = 303;
}

export function clockOf(ctx: Context, services: DemoServices): SessionClock {
  return {
    expiresAt: services.sessions.expiresAt(ctx),
    browserSession: sessionLifetime(ctx) === 'session',
    companion: services.settings.companionCookie,
    pollMs: services.settings.statusPollMs,
  };
}

/**
 * Signed-in pages and actions. Without a live session the browser goes to /signin, still holding
 * its cookie: if that cookie was revoked, the sign-in page can say why.
 */
export function requireUser(services: DemoServices) {
  return async (ctx: Context, next: Next) => {
    const userId = services.sessions.userId(ctx);
    const account: Account | undefined = userId ? await services.accounts.get(userId) : undefined;
    if (!account) {
      // A session whose account is gone (expired demo data) is ended rather than trusted.
      if (userId) await services.sessions.logout(ctx);
      return seeOther(ctx, '/signin');
    }
    ctx.state.viewer = { account, csrf: csrfToken(ctx) } satisfies Viewer;
    await next();
  };
}

export async function requireAdmin(ctx: Context, next: Next) {
  if (viewerOf(ctx).account.role !== 'admin') ctx.throw(403, 'Only administrators can open the admin page.');
  await next();
}

/** For POST routes: parses the form and checks its CSRF token before the handler runs. */
export async function checkedForm(ctx: Context, next: Next) {
  const form = await readForm(ctx);
  verifyCsrf(ctx, form);
  ctx.state.form = form;
  await next();
}
