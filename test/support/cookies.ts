// Signing cookie values the way Koa does (keygrip, a declared dev dependency), so tests can reach the store behind the signature.
import Keygrip from 'keygrip';
import { APP_KEYS } from './app.js';

const keygrip = new Keygrip(APP_KEYS);

/**
 * The `.sig` value Koa's cookies would write for `data` (`name=value`), with the test app's first
 * key or another one. keygrip itself rather than a copy of its HMAC: a test of what Koa accepts
 * must break if Koa's signing changes, not agree with an outdated copy.
 */
export function sign(data: string, key?: string): string {
  return key === undefined ? keygrip.sign(data) : new Keygrip([key]).sign(data);
}

/** A Cookie header carrying `value` for the session cookie, with a valid signature. */
export function signedCookie(value: string, name = 'sid'): string {
  return `${name}=${value}; ${name}.sig=${sign(`${name}=${value}`)}`;
}
