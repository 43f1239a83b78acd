// The signed-in user's own pages: devices (sign out one, or all others) and the password change, which needs a recent sign-in.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { rotateCsrfToken } from '../csrf.js';
import { field } from '../form.js';
import { APP_REASONS } from '../reasons.js';
import { sessionLifetime, setFlash, takeFlash } from '../session-data.js';
import { readStoredSession } from '../stored-value.js';
import { homePage } from '../views/home.js';
import { MIN_PASSWORD, passwordPage } from '../views/password.js';
import { requireFreshSignIn } from './confirm.js';
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

const HANDLE = /^[A-Za-z0-9_-]{1,64}$/;

export function accountRoutes(router: Router, services: DemoServices): void {
  const { redis, sessions, accounts, notices, throttle, settings } = services;
  const signedIn = requireUser(services);
  const fresh = requireFreshSignIn(services);

  router.get('/', signedIn, async (ctx) => {
    const viewer = viewerOf(ctx);
    const userId = viewer.account.username;
    const devices = await sessions.list(userId, ctx);
    const current = devices.find((d) => d.current);
    const unread = current ? await notices.take(userId, current.id) : [];
    ctx.type = 'html';
    ctx.body = homePage({
      viewer,
      clock: clockOf(ctx, services),
      devices,
      notices: unread,
      flash: takeFlash(ctx),
      maxSessions: settings.maxSessions,
      stored: await readStoredSession(redis, sessions, ctx),
    });
  });

  router.post('/devices/sign-out-others', signedIn, checkedForm, async (ctx) => {
    // One epoch rotation: every other session ends, and this one continues under a new id.
    if (!(await sessions.logoutOthers(ctx))) return seeOther(ctx, '/signin');
    setFlash(ctx, { kind: 'success', text: 'Every other device has been signed out.' });
    seeOther(ctx, '/');
  });

  router.post('/devices/:id/sign-out', signedIn, checkedForm, async (ctx) => {
    const id = ctx.params.id ?? '';
    if (!HANDLE.test(id)) ctx.throw(400, 'That is not a device of this account.');
    const ended = await sessions.revoke(viewerOf(ctx).account.username, id);
    setFlash(ctx, {
      kind: ended ? 'success' : 'info',
      text: ended ? 'That device has been signed out.' : 'That device was already signed out.',
    });
    seeOther(ctx, '/');
  });

  async function renderPassword(ctx: Context, status: number, error?: string) {
    const viewer = viewerOf(ctx);
    const devices = await sessions.list(viewer.account.username, ctx);
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = passwordPage({
      viewer,
      clock: clockOf(ctx, services),
      otherDevices: devices.filter((d) => !d.current).length,
      authenticatedAt: sessions.authenticatedAt(ctx),
      freshForMs: settings.freshForMs,
      flash: takeFlash(ctx),
      ...(error ? { error } : {}),
    });
  }

  router.get('/account/password', signedIn, fresh, (ctx) => renderPassword(ctx, 200));

  // CSRF first, then freshness: a forged post gets a 403 and no password prompt.
  router.post('/account/password', signedIn, checkedForm, fresh, async (ctx) => {
    const form = formOf(ctx);
    const { username } = viewerOf(ctx).account;
    const current = field(ctx, form, 'current', 'current password', 1024);
    const next = field(ctx, form, 'next', 'new password', 1024);
    const confirm = field(ctx, form, 'confirm', 'repeated password', 1024);
    // The current password is a password guess too: counted with the sign-in failures.
    const blocked = await throttle.blockedFor(ctx.ip, username);
    if (blocked > 0) {
      return renderPassword(
        ctx,
        429,
        `Too many wrong passwords for this account. ${retryAfter(ctx, blocked)}`,
      );
    }
    if (!(await accounts.verify(username, current))) {
      await throttle.failed(ctx.ip, username);
      return renderPassword(ctx, 403, 'Your current password is not right.');
    }
    await throttle.succeeded(ctx.ip, username);
    if (next.length < MIN_PASSWORD) {
      return renderPassword(ctx, 400, `The new password needs at least ${MIN_PASSWORD} characters.`);
    }
    if (next !== confirm) return renderPassword(ctx, 400, 'The two new passwords do not match.');
    if (next === current)
      return renderPassword(ctx, 400, 'Choose a password different from the current one.');

    // This device keeps the lifetime it signed in with: a browser-session cookie, or "Remember me".
    const lifetime = sessionLifetime(ctx);
    await accounts.setPassword(username, next);
    try {
      // Every session of the user ends, this one included, each with the reason its device will show...
      await sessions.rotate(username, { reason: APP_REASONS.passwordChanged });
    } catch (error) {
      const message =
        'Your password was changed, but the other devices could not be signed out because the session ' +
        'store is unavailable. Change it again in a moment.';
      ctx.throw(503, message, { expose: true, cause: error });
    }
    // ...then this device signs in again under the new epoch, keeping its session data.
    await sessions.login(ctx, username, lifetime === undefined ? {} : { maxAge: lifetime });
    rotateCsrfToken(ctx);
    setFlash(ctx, {
      kind: 'success',
      text: 'Password changed. Every other device has been signed out; this one stayed signed in.',
    });
    seeOther(ctx, '/');
  });
}
