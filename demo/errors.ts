// Error pages: every failure becomes a short page (or JSON for scripts) with the right status, never a stack trace.
import type { Context, Middleware } from 'koa';
import { SessionLimitError, SessionStoreUnavailableError } from '../lib/index.js';
import { errorMessage, errorPage, errorTitle } from './views/error.js';

/**
 * The library turns its own Redis failures into SessionStoreUnavailableError. The demo's own keys
 * (accounts, notices, throttle) go through the same client, whose connection errors are mapped
 * here, so "Redis is down" reads the same whichever call noticed it first.
 */
function redisUnavailable(error: unknown): boolean {
  if (error instanceof SessionStoreUnavailableError) return true;
  const err = error as { name?: string; message?: string } | null;
  return (
    err?.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/.test(
      err?.message ?? '',
    )
  );
}

interface HttpLike {
  status?: unknown;
  expose?: unknown;
  message?: string;
}

function wantsJson(ctx: Context): boolean {
  return ctx.path.startsWith('/session/') || ctx.accepts('html', 'json') === 'json';
}

function respond(ctx: Context, status: number, message?: string): void {
  ctx.status = status;
  if (wantsJson(ctx)) {
    ctx.body = { error: errorTitle(status), message: errorMessage(status, message) };
  } else {
    ctx.type = 'html';
    ctx.body = errorPage(status, message);
  }
}

export function errorPages(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // Unmatched routes (404) and wrong methods (405) arrive here without a body.
      if (ctx.status >= 400 && ctx.body == null) respond(ctx, ctx.status);
    } catch (error) {
      const err = (error ?? {}) as HttpLike;
      let status = typeof err.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
      let message = err.expose === true ? err.message : undefined;
      if (error instanceof SessionLimitError) message = undefined; // the sign-in page explains it in its own words
      if (redisUnavailable(error)) {
        status = 503;
        message = undefined;
        ctx.set('Retry-After', '5');
      }
      // Only unexpected failures are reported: a 4xx is the client's doing, a 503 is Redis's.
      if (status >= 500 && status !== 503) ctx.app.emit('error', error, ctx);
      ctx.remove('Location');
      respond(ctx, status, message);
    }
  };
}
