// Sign-in and sign-out: CSRF-checked forms, a throttle on failures, and the reason a device was signed out.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { SessionLimitError } from '../../lib/index.js';
import { csrfToken, rotateCsrfToken } from '../csrf.js';
import { field } from '../form.js';
import { revocationMessage } from '../reasons.js';
import { clock } from '../views/format.js';
import { type SignInView, signInPage } from '../views/signin.js';
import { checkedForm, type DemoServices, formOf, retryAfter, seeOther } from './context.js';

export function authRoutes(router: Router, services: DemoServices): void {
  const { sessions, accounts, throttle, settings } = services;

  function render(ctx: Context, status: number, view: Partial<SignInView> = {}) {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = signInPage({
      csrf: csrfToken(ctx),
      accounts: settings.demoAccounts,
      rememberMeMaxAge: settings.rememberMeMaxAge,
      idleMaxAge: settings.idleMaxAge,
      ...view,
    });
  }

  router.get('/signin', (ctx) => {
    if (sessions.userId(ctx)) return seeOther(ctx, '/');
    const revoked = sessions.revokedReason(ctx);
    let notice: SignInView['notice'];
    if (revoked) notice = { kind: 'warn', text: revocationMessage(revoked), at: clock(revoked.at) };
    else if (ctx.query.expired !== undefined)
      notice = { kind: 'info', text: 'Your session expired. Please sign in again.' };
    else if (ctx.query.signedout !== undefined)
      notice = { kind: 'info', text: 'You have signed out of this device.' };
    render(ctx, 200, { notice });
  });

  router.post('/signin', checkedForm, async (ctx) => {
    const form = formOf(ctx);
    const username = field(ctx, form, 'username', 'username', 64).trim().toLowerCase();
    const password = field(ctx, form, 'password', 'password', 1024);
    const remember = form.get('remember') === 'yes';
    if (!username || !password) {
      return render(ctx, 400, { username, remember, error: 'Enter your username and your password.' });
    }
    const blocked = await throttle.blockedFor(ctx.ip, username);
    if (blocked > 0) {
      return render(ctx, 429, {
        username,
        remember,
        error: `Too many failed sign-ins for this account. ${retryAfter(ctx, blocked)}`,
      });
    }
    const account = await accounts.verify(username, password);
    if (!account) {
      await throttle.failed(ctx.ip, username);
      // The same words for an unknown user and a wrong password: no hint which accounts exist.
      return render(ctx, 401, { username, remember, error: 'Wrong username or password.' });
    }
    try {
      // "Remember me": a cookie that outlives the browser. Without it, a browser-session cookie,
      // which the store still ends after `idleMaxAge` without a save (browserSessionTtl).
      await sessions.login(ctx, account.username, {
        maxAge: remember ? settings.rememberMeMaxAge : 'session',
      });
    } catch (error) {
      if (!(error instanceof SessionLimitError)) throw error;
      return render(ctx, 409, {
        username,
        remember,
        error: `This account is already signed in on ${error.limit} devices, the most it allows. Sign out on one of them first.`,
      });
    }
    await throttle.succeeded(ctx.ip, username);
    rotateCsrfToken(ctx);
    seeOther(ctx, '/');
  });

  router.post('/signout', async (ctx) => {
    // Signing out needs the token too: otherwise any site could sign you out.
    if (sessions.userId(ctx)) {
      await checkedForm(ctx, async () => {
        await sessions.logout(ctx);
      });
      return seeOther(ctx, '/signin?signedout');
    }
    seeOther(ctx, '/signin');
  });
}
