// The Koa adapter's options: the store's, the cookie's and the limit's, plus the login hook, which sees the Koa context.
import type { Context } from 'koa';
import type { CookieChoices, EpochStoreOptions, LoginEvent, SessionLimitOptions } from '../core/options.js';

export interface EpochSessionOptions extends EpochStoreOptions, CookieChoices, SessionLimitOptions {
  /** Called after every login, for "new sign-in from …" notices. Errors go to `app.emit('error')`. */
  onLogin?: (event: LoginEvent, ctx: Context) => unknown;
}
