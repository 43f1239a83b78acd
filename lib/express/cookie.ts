// The session cookie as the browser must see it: signed like express-session, cleared or re-sent when the store says so.
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The attributes of a cookie, as express-session's `cookie.data` gives them. */
export interface CookieAttributes {
  expires?: Date | null;
  httpOnly?: boolean;
  secure?: boolean;
  domain?: string;
  path?: string;
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

const EPOCH = new Date(0);

/** express-session's signature (cookie-signature): `s:<value>.<HMAC-SHA256 base64 without padding>`. */
export function signValue(value: string, secret: string): string {
  const mac = createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '');
  return `s:${value}.${mac}`;
}

/** A Set-Cookie line, encoded as express-session's `cookie.serialize` does (values are URI-encoded). */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  let line = `${name}=${encodeURIComponent(value)}`;
  if (attributes.domain) line += `; Domain=${attributes.domain}`;
  line += `; Path=${attributes.path ?? '/'}`;
  if (attributes.expires) line += `; Expires=${attributes.expires.toUTCString()}`;
  if (attributes.httpOnly) line += '; HttpOnly';
  if (attributes.secure) line += '; Secure';
  if (attributes.partitioned) line += '; Partitioned';
  if (attributes.priority) {
    line += `; Priority=${attributes.priority[0]!.toUpperCase()}${attributes.priority.slice(1)}`;
  }
  const sameSite = attributes.sameSite === true ? 'strict' : attributes.sameSite;
  if (sameSite) line += `; SameSite=${sameSite[0]!.toUpperCase()}${sameSite.slice(1)}`;
  return line;
}

/** A Set-Cookie line that removes the cookie (the same name, path and domain, expired). */
export function clearingCookie(name: string, attributes: CookieAttributes): string {
  return serializeCookie(name, '', { ...attributes, expires: EPOCH });
}

/**
 * Runs `listener` just before the response head is written, after every listener express-session
 * registered later (on-headers wraps writeHead, the last wrapper firing first): ours, installed
 * before express-session, sees the Set-Cookie it wrote. Headers passed to writeHead() itself are
 * applied by express-session's wrapper before ours fires.
 */
export function beforeHead(res: ServerResponse, listener: () => void): void {
  const writeHead = res.writeHead;
  let fired = false;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!fired) {
      fired = true;
      listener();
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/** The Set-Cookie lines already on the response. */
export function setCookieLines(res: ServerResponse): string[] {
  const header = res.getHeader('Set-Cookie');
  return Array.isArray(header) ? [...header] : header === undefined ? [] : [String(header)];
}

/** Whether the request carried a cookie of this name at all (signed or not). */
export function hasCookie(req: IncomingMessage, name: string): boolean {
  const header = req.headers.cookie;
  if (!header) return false;
  return header.split(';').some((pair) => pair.trimStart().startsWith(`${name}=`));
}

/**
 * express-session's rule for HTTPS: an encrypted socket; with `proxy: true` the first
 * X-Forwarded-Proto; with `proxy: false` never a proxy; otherwise Express's `req.secure`,
 * which follows the app's `trust proxy` setting.
 */
export function isSecure(req: IncomingMessage & { secure?: boolean }, proxy: boolean | undefined): boolean {
  if ((req.socket as { encrypted?: boolean } | null)?.encrypted) return true;
  if (proxy === false) return false;
  if (proxy !== true) return req.secure === true;
  const header = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0];
  return first?.trim().toLowerCase() === 'https';
}
