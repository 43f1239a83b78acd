// Recent sign-in for sensitive pages: requireFresh in front of them, and the password confirmation that calls reauthenticate.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { SessionNotFreshError } from '../../lib/index.js';
import { field } from '../form.js';
import { setFlash } from '../session-data.js';
import { confirmPage } from '../views/confirm.js';
import {
  checkedForm,
  clockOf,
  type DemoServices,
  formOf,
  requireUser,
  retryAfter,
  seeOther,
  viewerOf,
} from './context.js';

/**
 * The pages that need a recent sign-in, with what they are for. The confirmation returns only to
 * one of these, so its `next` field cannot send anyone elsewhere (no open redirect).
 */
const FRESH_PAGES: ReadonlyMap<string, string> = new Map([['/account/password', 'change your password']]);

function renderConfirm(
  ctx: Context,
  services: DemoServices,
  status: number,
  next: string,
  extra: { error?: string; unsaved?: boolean } = {},
): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = confirmPage({
    viewer: viewerOf(ctx),
    clock: clockOf(ctx, services),
    next,
    action: FRESH_PAGES.get(next) ?? 'go on',
    authenticatedAt: services.sessions.authenticatedAt(ctx),
    freshForMs: services.settings.freshForMs,
    ...extra,
  });
}

/**
 * After requireUser (and checkedForm on a POST): lets the request through only when the user
 * signed in or confirmed the password within `freshForMs`. Otherwise it answers 403 with the
 * password confirmation, and a posted form is not applied: a stolen or forgotten session cookie
 * alone cannot change the password.
 */
export function requireFreshSignIn(services: DemoServices) {
  return async (ctx: Context, next: Next) => {
    if (!FRESH_PAGES.has(ctx.path)) throw new Error(`requireFreshSignIn: add ${ctx.path} to FRESH_PAGES`);
    try {
      services.sessions.requireFresh(ctx, services.settings.freshForMs);
    } catch (error) {
      if (!(error instanceof SessionNotFreshError)) throw error;
      return renderConfirm(ctx, services, 403, ctx.path, { unsaved: ctx.method === 'POST' });
    }
    await next();
  };
}

export function confirmRoutes(router: Router, services: DemoServices): void {
  const { sessions, accounts, throttle } = services;

  router.post('/account/confirm', requireUser(services), checkedForm, async (ctx) => {
    const form = formOf(ctx);
    const asked = form.get('next') ?? '';
    const next = FRESH_PAGES.has(asked) ? asked : '/account/password';
    const password = field(ctx, form, 'password', 'password', 1024);
    if (!password) return renderConfirm(ctx, services, 400, next, { error: 'Enter your password.' });
    // A confirmation is a password guess like a sign-in: the same counter per (IP, username), so
    // a stolen session cookie gives no more guesses than the sign-in form does.
    const { username } = viewerOf(ctx).account;
    const blocked = await throttle.blockedFor(ctx.ip, username);
    if (blocked > 0) {
      const error = `Too many wrong passwords for this account. ${retryAfter(ctx, blocked)}`;
      return renderConfirm(ctx, services, 429, next, { error });
    }
    if (!(await accounts.verify(username, password))) {
      await throttle.failed(ctx.ip, username);
      return renderConfirm(ctx, services, 401, next, { error: 'That password is not right.' });
    }
    await throttle.succeeded(ctx.ip, username);
    try {
      // Fresh from now on: same session, same sid, no new login.
      await sessions.reauthenticate(ctx);
    } catch (error) {
      // The session was revoked while the password was being checked: this request is signed out.
      if (!(error instanceof SessionNotFreshError)) throw error;
      return seeOther(ctx, '/signin');
    }
    setFlash(ctx, { kind: 'success', text: 'Password confirmed.' });
    seeOther(ctx, next);
  });
}
