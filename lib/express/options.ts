// Options of the Express adapter: the store's, the helpers', and express-session's own, checked at start-up.
import type { Request } from 'express';
import {
  cookieOptions,
  DEFAULTS,
  type EpochStoreOptions,
  type LoginEvent,
  type SessionLimitPolicy,
} from '../core/options.js';
import type { CookieDefaults } from './store.js';

export interface ExpressSessionOptions extends EpochStoreOptions {
  /** Signs the cookie (express-session's `secret`). Required. An array rotates keys: the first signs. */
  secret: string | string[];
  /** Cookie name. Default `'sid'`: neutral, it does not advertise the framework (express-session's `name`). */
  name?: string;
  /** express-session's `resave`. Default `false`: an unchanged session is touched, not rewritten. */
  resave?: boolean;
  /** express-session's `saveUninitialized`. Default `false`: no key and no cookie for an empty session. */
  saveUninitialized?: boolean;
  /** express-session's `rolling`: send the cookie, with a fresh expiry, on every response. Default `false`. */
  rolling?: boolean;
  /** express-session's `proxy`. Default: Express's `trust proxy` setting decides (`req.secure`). */
  proxy?: boolean;
  /** express-session's `unset`: what `req.session = null` does. Default `'keep'`. */
  unset?: 'keep' | 'destroy';
  /** Default `true`. */
  httpOnly?: boolean;
  /** Default `'lax'`. */
  sameSite?: 'lax' | 'strict' | 'none';
  /** Default: secure when the request is HTTPS (honouring `trust proxy`). */
  secure?: boolean;
  domain?: string;
  path?: string;
  /** With the registry: the most sessions one user may hold at once. Default: no limit. */
  maxSessions?: number;
  /** What `login` does at the limit. Default `'evict-oldest'`. */
  sessionLimitPolicy?: SessionLimitPolicy;
  /**
   * Name of a readable (not HttpOnly, not signed) cookie that mirrors the session's expiry time in
   * ms since the epoch, so page scripts can tell whether the session is alive. Default: none.
   */
  companionCookie?: string;
  /** Called after every login, for "new sign-in from …" notices. Errors are emitted as `hook-error`. */
  onLogin?: (event: LoginEvent, req: Request) => unknown;
}

function fail(message: string): never {
  throw new TypeError(`koa-epoch-session: ${message}`);
}

/** The express-session options and cookie defaults, from ours: secure defaults, every value checked. */
export function expressSettings(options: ExpressSessionOptions) {
  const { secret } = options;
  const secrets = Array.isArray(secret) ? secret : [secret];
  if (secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s.length > 0)) {
    fail('secret must be a non-empty string, or an array of them (the first signs the cookie)');
  }
  if ('key' in options || 'signed' in options || 'renew' in options) {
    fail('key, signed and renew are Koa options: the Express adapter takes name, and always signs');
  }
  // The cookie's maxAge is the store's (checked there); only the attributes are checked here.
  const { onLogin: _onLogin, ...checked } = options;
  const cookie = cookieOptions({ ...checked, key: options.name, signed: true }, DEFAULTS.maxAge);
  for (const name of ['resave', 'saveUninitialized', 'proxy'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') fail(`${name} must be a boolean`);
  }
  if (options.unset !== undefined && options.unset !== 'keep' && options.unset !== 'destroy') {
    fail('unset must be "keep" or "destroy"');
  }
  const defaults: Omit<CookieDefaults, 'originalMaxAge'> = {
    httpOnly: cookie.httpOnly,
    secure: options.secure ?? 'auto',
    path: options.path ?? '/',
    sameSite: cookie.sameSite,
    ...(options.domain === undefined ? {} : { domain: options.domain }),
  };
  return {
    name: cookie.key,
    secrets: secrets as string[],
    rolling: cookie.rolling,
    resave: options.resave ?? false,
    saveUninitialized: options.saveUninitialized ?? false,
    proxy: options.proxy,
    unset: options.unset ?? 'keep',
    cookie: defaults,
  };
}

export type ExpressSettings = ReturnType<typeof expressSettings>;
