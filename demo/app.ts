// createDemoApp: the demo as a Koa app, wired to koa-epoch-session, for `npm run demo` and the tests alike.
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Redis } from 'ioredis';
import Koa from 'koa';
import {
  aesGcmCodec,
  createSessions,
  type EpochSessionOptions,
  type SessionLimitPolicy,
  type Sessions,
} from '../lib/index.js';
import { Accounts, DEMO_ACCOUNTS } from './accounts.js';
import { checkEncryptionKeys, randomEncryptionKey } from './encryption.js';
import { errorPages } from './errors.js';
import { securityHeaders } from './headers.js';
import { Notices } from './notices.js';
import { accountRoutes } from './routes/account.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { confirmRoutes } from './routes/confirm.js';
import type { DemoServices } from './routes/context.js';
import { statusRoutes } from './routes/status.js';
import { Throttle } from './throttle.js';

export interface DemoOptions {
  redis: Redis;
  /** Cookie signing keys. Default: a random key per start, so restarting signs everyone out. */
  keys?: string[];
  /**
   * Keys that encrypt the session data in Redis (AES-256-GCM): 32 bytes each, in base64
   * (`openssl rand -base64 32`). The first encrypts; every one decrypts, so to rotate, put the new
   * key first and keep the old one second until the sessions it encrypted have ended. Default: a
   * random key per start, like `keys`.
   */
  encryptionKeys?: string[];
  /**
   * Idle lifetime in ms of a sign-in without "Remember me" (its cookie also ends with the browser),
   * and of the anonymous session on the sign-in page. Default 30 minutes.
   */
  maxAge?: number;
  /** Lifetime in ms of a sign-in with "Remember me" ticked. Default 30 days. */
  rememberMeMaxAge?: number;
  /** Sessions end this long after sign-in, however active. Default: `rememberMeMaxAge`. */
  absoluteMaxAge?: number;
  /**
   * Changing the password needs a sign-in, or a password confirmation, at most this long ago, in ms
   * (`sessions.requireFresh`). Default 10 minutes.
   */
  freshForMs?: number;
  /** Devices one account may use at once. Default 3. */
  maxSessions?: number;
  /** At the limit: end the oldest session (default) or refuse the sign-in. */
  sessionLimitPolicy?: SessionLimitPolicy;
  /** How often the page script asks /session/status, in ms. Default 15 s. */
  statusPollMs?: number;
  /** Failed sign-ins allowed per (IP, username) in 15 minutes. Default 10. */
  failedSignInLimit?: number;
  /** Do not let Koa log errors (tests). */
  silent?: boolean;
}

export interface DemoApp {
  app: Koa;
  sessions: Sessions;
  accounts: Accounts;
  notices: Notices;
  settings: DemoServices['settings'];
}

export const COMPANION_COOKIE = 'sid_expires';

export function createDemoApp(options: DemoOptions): DemoApp {
  const { redis } = options;
  const app = new Koa();
  app.keys = options.keys ?? [randomBytes(32).toString('base64url')];
  app.silent = options.silent ?? false;

  const accounts = new Accounts(redis);
  const notices = new Notices(redis);
  const settings = demoSettings(options);
  const encryptionKeys = checkEncryptionKeys(
    options.encryptionKeys ?? [randomEncryptionKey()],
    'encryptionKeys',
    (i) => `encryptionKeys[${i}]`,
  );
  const sessions = createSessions(app, sessionOptions(options, settings, notices, encryptionKeys));

  const services: DemoServices = {
    redis,
    sessions,
    accounts,
    notices,
    throttle: new Throttle(redis, options.failedSignInLimit ?? 10),
    settings,
  };

  const router = new Router();
  authRoutes(router, services);
  confirmRoutes(router, services);
  accountRoutes(router, services);
  adminRoutes(router, services);
  statusRoutes(router, services);

  app.use(securityHeaders());
  // Outside the session middleware, so a Redis failure while loading or saving a session gets a page too.
  app.use(errorPages());
  app.use(sessions.middleware);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return { app, sessions, accounts, notices, settings };
}

function demoSettings(options: DemoOptions): DemoServices['settings'] {
  const idleMaxAge = options.maxAge ?? 30 * 60_000;
  const rememberMeMaxAge = options.rememberMeMaxAge ?? 30 * 24 * 3600_000;
  const freshForMs = options.freshForMs ?? 10 * 60_000;
  for (const [name, value] of Object.entries({ maxAge: idleMaxAge, rememberMeMaxAge, freshForMs })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`demo: ${name} must be a whole number of milliseconds, at least 1`);
    }
  }
  return {
    companionCookie: COMPANION_COOKIE,
    statusPollMs: options.statusPollMs ?? 15_000,
    maxSessions: options.maxSessions ?? 3,
    idleMaxAge,
    rememberMeMaxAge,
    freshForMs,
    demoAccounts: DEMO_ACCOUNTS,
  };
}

/**
 * Every koa-epoch-session option the demo sets, assembled here and nowhere else: a new demo
 * toggle (like `codec`) is one more line in this object.
 */
function sessionOptions(
  options: DemoOptions,
  settings: DemoServices['settings'],
  notices: Notices,
  encryptionKeys: string[],
): EpochSessionOptions {
  return {
    redis: options.redis,
    // Everything the demo writes starts with `demo:`, so it can share a Redis (REDIS_URL) politely.
    prefix: 'demo:sess:',
    // Anonymous sessions (the sign-in page's CSRF token). A sign-in chooses its own lifetime: a
    // browser-session cookie, or "Remember me" (routes/auth.ts).
    maxAge: settings.idleMaxAge,
    // A browser-session cookie still ends in Redis after this long without a save.
    browserSessionTtl: settings.idleMaxAge,
    absoluteMaxAge: options.absoluteMaxAge ?? settings.rememberMeMaxAge,
    registry: true,
    maxSessions: settings.maxSessions,
    sessionLimitPolicy: options.sessionLimitPolicy ?? 'evict-oldest',
    companionCookie: settings.companionCookie,
    // Runs after each sign-in, off the request's path: "new sign-in from …" on the other devices.
    onLogin: (event) => notices.record(event),
    // The session data is encrypted in Redis; the expiry and the device header before it stay in
    // clear, so the scripts, list() and last-seen work without the keys. A value no key can
    // decrypt (a retired key, say) reads as a fresh session: that device signs in again.
    codec: aesGcmCodec({ keys: encryptionKeys }),
  };
}
