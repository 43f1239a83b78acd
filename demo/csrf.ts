// CSRF protection: a random token in the session, echoed by every form, plus an Origin check.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { Form } from './form.js';
import { sessionOf } from './session-data.js';

const FORGED =
  'This form has expired or was not sent from this site. Go back, reload the page and try again.';

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The token for this session's forms, created on first use (on the sign-in page, in the anonymous session). */
export function csrfToken(ctx: Context): string {
  const session = sessionOf(ctx);
  if (!session) return '';
  if (typeof session.csrf !== 'string') session.csrf = newToken();
  return session.csrf as string;
}

/** After sign-in the token changes too, so a token seen before authentication is worthless after it. */
export function rotateCsrfToken(ctx: Context): void {
  const session = sessionOf(ctx);
  if (session) session.csrf = newToken();
}

/** Throws 403 unless the form carries this session's token and, when the browser says, came from this origin. */
export function verifyCsrf(ctx: Context, form: Form): void {
  // Koa 3's ctx.origin is the Origin request header itself, so compare with this server's own origin.
  const origin = ctx.get('origin');
  if (origin && origin !== `${ctx.protocol}://${ctx.host}`) ctx.throw(403, FORGED);
  const expected = sessionOf(ctx)?.csrf;
  const given = form.get('_csrf') ?? '';
  if (typeof expected !== 'string' || !safeEqual(expected, given)) ctx.throw(403, FORGED);
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
