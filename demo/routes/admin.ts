// The admin page: see every account's sessions and force a user off every device.
import type Router from '@koa/router';
import { APP_REASONS } from '../reasons.js';
import { setFlash, takeFlash } from '../session-data.js';
import { adminPage } from '../views/admin.js';
import {
  checkedForm,
  clockOf,
  type DemoServices,
  requireAdmin,
  requireUser,
  seeOther,
  viewerOf,
} from './context.js';

export function adminRoutes(router: Router, services: DemoServices): void {
  const { sessions, accounts } = services;
  const signedIn = requireUser(services);

  router.get('/admin', signedIn, requireAdmin, async (ctx) => {
    const all = await accounts.all();
    const users = await Promise.all(
      all.map(async (account) => ({ account, sessions: await sessions.list(account.username, ctx) })),
    );
    ctx.type = 'html';
    ctx.body = adminPage({
      viewer: viewerOf(ctx),
      clock: clockOf(ctx, services),
      users,
      flash: takeFlash(ctx),
    });
  });

  router.post('/admin/users/:username/sign-out', signedIn, requireAdmin, checkedForm, async (ctx) => {
    const account = await accounts.get(ctx.params.username ?? '');
    if (!account) return ctx.throw(404, 'There is no such user.');
    const had = await sessions.rotate(account.username, { reason: APP_REASONS.admin });
    setFlash(ctx, {
      kind: had ? 'success' : 'info',
      text: had
        ? `${account.name} has been signed out of every device.`
        : `${account.name} had no active sessions.`,
    });
    seeOther(ctx, '/admin');
  });
}
