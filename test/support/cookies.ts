// Signing cookie values the way Koa does, so tests can reach the store layer behind the signature.
import Keygrip from 'keygrip';
import { APP_KEYS } from './app.js';

const keygrip = new Keygrip(APP_KEYS);

/** A Cookie header carrying `value` for the session cookie, with a valid signature. */
export function signedCookie(value: string, name = 'sid'): string {
  return `${name}=${value}; ${name}.sig=${keygrip.sign(`${name}=${value}`)}`;
}
