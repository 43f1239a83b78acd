// The companion cookie: a readable mirror of the session's expiry, so scripts can tell whether it is alive.
import type { Context } from 'koa';

/**
 * Single-page apps cannot read the HttpOnly session cookie, so they cannot tell when it ends.
 * The companion carries only the expiry time (ms since the epoch), never a secret, and moves in
 * step with the real cookie: set whenever koa-session sets it, cleared whenever it clears it or
 * the request presented a revoked session.
 */
export interface CompanionOptions {
  name: string;
  sessionKey: string;
  sameSite: 'lax' | 'strict' | 'none';
  secure?: boolean;
  domain?: string;
  path?: string;
}

const EXPIRED = new Date(0);

export function syncCompanion(
  ctx: Context,
  options: CompanionOptions,
  session: { expiresAt: number | undefined; ended: boolean },
): void {
  const { name, sessionKey, ...attributes } = options;
  const setCookie = ctx.response.get('Set-Cookie');
  const lines = Array.isArray(setCookie) ? setCookie : setCookie ? [String(setCookie)] : [];
  const written = lines.find((line) => line.startsWith(`${sessionKey}=`));
  const base = { ...attributes, httpOnly: false, signed: false, overwrite: true };
  if (written === undefined && !session.ended) return;
  const cleared = written === undefined || written.startsWith(`${sessionKey}=;`);
  if (cleared || session.expiresAt === undefined) {
    if (ctx.cookies.get(name) !== undefined || written !== undefined) {
      ctx.cookies.set(name, '', { ...base, expires: EXPIRED });
    }
    return;
  }
  // Rounded up to the second like the session cookie's, so both end together.
  const maxAge = /;\s*expires=/i.test(written)
    ? { expires: new Date(Math.ceil(session.expiresAt / 1000) * 1000) }
    : {};
  ctx.cookies.set(name, String(session.expiresAt), { ...base, ...maxAge });
}
