// createDemoApp: the demo as a Koa app, wired to koa-epoch-session, for `npm run demo` and the tests alike.
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Redis } from 'ioredis';
import Koa from 'koa';
import { createSessions, type SessionLimitPolicy, type Sessions } from '../lib/index.js';
import { Accounts, DEMO_ACCOUNTS } from './accounts.js';
import { errorPages } from './errors.js';
import { securityHeaders } from './headers.js';
import { Notices } from './notices.js';
import { accountRoutes } from './routes/account.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import type { DemoServices } from './routes/context.js';
import { statusRoutes } from './routes/status.js';
import { Throttle } from './throttle.js';

export interface DemoOptions {
  redis: Redis;
  /** Cookie signing keys. Default: a random key per start, so restarting signs everyone out. */
  keys?: string[];
  /** Session lifetime in ms. Default 30 minutes. */
  maxAge?: number;
  /** Sessions end this long after sign-in, however active. Default 12 hours. */
  absoluteMaxAge?: number;
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
}

export const COMPANION_COOKIE = 'sid_expires';

export function createDemoApp(options: DemoOptions): DemoApp {
  const { redis } = options;
  const app = new Koa();
  app.keys = options.keys ?? [randomBytes(32).toString('base64url')];
  app.silent = options.silent ?? false;

  const accounts = new Accounts(redis);
  const notices = new Notices(redis);
  const maxSessions = options.maxSessions ?? 3;
  const sessions = createSessions(app, {
    redis,
    // Everything the demo writes starts with `demo:`, so it can share a Redis (REDIS_URL) politely.
    prefix: 'demo:sess:',
    maxAge: options.maxAge ?? 30 * 60_000,
    absoluteMaxAge: options.absoluteMaxAge ?? 12 * 3600_000,
    registry: true,
    maxSessions,
    sessionLimitPolicy: options.sessionLimitPolicy ?? 'evict-oldest',
    companionCookie: COMPANION_COOKIE,
    // Runs after each sign-in, off the request's path: "new sign-in from …" on the other devices.
    onLogin: (event) => notices.record(event),
  });

  const services: DemoServices = {
    sessions,
    accounts,
    notices,
    throttle: new Throttle(redis, options.failedSignInLimit ?? 10),
    settings: {
      companionCookie: COMPANION_COOKIE,
      statusPollMs: options.statusPollMs ?? 15_000,
      maxSessions,
      demoAccounts: DEMO_ACCOUNTS,
    },
  };

  const router = new Router();
  authRoutes(router, services);
  accountRoutes(router, services);
  adminRoutes(router, services);
  statusRoutes(router, services);

  app.use(securityHeaders());
  // Outside the session middleware, so a Redis failure while loading or saving a session gets a page too.
  app.use(errorPages());
  app.use(sessions.middleware);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return { app, sessions, accounts, notices };
}
