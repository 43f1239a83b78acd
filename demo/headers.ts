// Response headers every page gets: a strict CSP, no caching of personal pages, no framing, no sniffing.
import type { Middleware } from 'koa';
import { CONTENT_SECURITY_POLICY } from './views/layout.js';

export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'same-origin',
      'Cross-Origin-Opener-Policy': 'same-origin',
      // Pages show who is signed in and where: after sign-out, Back must not show them again.
      'Cache-Control': 'no-store',
    });
    await next();
  };
}
