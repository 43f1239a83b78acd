// GET /session/status: whether this browser's session is alive, for page scripts that cannot read the cookie.
import type Router from '@koa/router';
import type { DemoServices } from './context.js';

export interface SessionStatus {
  alive: boolean;
  userId: string | null;
  /** ISO 8601, when the session cookie ends; null when there is no session. */
  expiresAt: string | null;
  /** Present when the cookie presented was revoked: 'password-changed', 'revoked', … */
  reason?: string;
}

export function statusRoutes(router: Router, services: DemoServices): void {
  const { sessions } = services;
  router.get('/session/status', (ctx) => {
    const userId = sessions.userId(ctx);
    const expiresAt = userId ? sessions.expiresAt(ctx) : undefined;
    const revoked = sessions.revokedReason(ctx);
    const status: SessionStatus = {
      alive: userId !== undefined,
      userId: userId ?? null,
      expiresAt: expiresAt?.toISOString() ?? null,
      ...(revoked ? { reason: revoked.reason } : {}),
    };
    ctx.body = status;
  });
}
