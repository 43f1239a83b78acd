// An Express app wired with createExpressSessions, driven through supertest: the Express twin of test/support/app.ts.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import supertest from 'supertest';
import { signValue } from '../../lib/express/cookie.js';
import {
  createExpressSessions,
  type ExpressSessionOptions,
  type ExpressSessions,
} from '../../lib/express/index.js';
import { Gate, inspectorOf, newRedis } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';

export { closeClients, Gate } from '../support/app.js';

export const SECRET = 'test-express-secret';

export interface ExpressTestApp {
  app: express.Express;
  sessions: ExpressSessions;
  redis: Redis;
  agent: () => ReturnType<typeof supertest.agent>;
  gates: Map<string, Gate>;
}

export type Handler = (req: Request, res: Response, t: ExpressTestApp) => Promise<void> | void;

/** The session's fields without its cookie, as the tests compare them. */
export function dataOf(req: Request): Record<string, unknown> | null {
  if (!req.session) return null;
  const { cookie: _cookie, ...data } = req.session as unknown as Record<string, unknown>;
  return JSON.parse(JSON.stringify(data));
}

/** The routes of the functional tests, as in the Koa app: each answers who the request is. */
const routes: Record<string, Handler> = {
  'GET /whoami': () => {},
  'POST /login': async (req, res, t) => {
    // Long ids (10 KB) travel in the body, read raw: a body parser would strip a leading BOM.
    const user = req.query.user === undefined ? await readBody(req) : String(req.query.user);
    res.locals.login = await t.sessions.login(req, user);
  },
  'POST /set': (req) => {
    for (const [k, v] of Object.entries(req.query)) (req.session as any)[k] = v;
  },
  'POST /logout': async (req, _res, t) => {
    await t.sessions.logout(req);
  },
  'POST /logout-others': async (req, res, t) => {
    const reason = req.query.reason === undefined ? undefined : String(req.query.reason);
    res.locals.kept = await t.sessions.logoutOthers(req, { reason });
  },
  'POST /regenerate': async (req) => {
    await new Promise<void>((resolve, reject) =>
      req.session.regenerate((error) => (error ? reject(error) : resolve())),
    );
  },
  'POST /destroy': async (req) => {
    await new Promise<void>((resolve, reject) =>
      req.session.destroy((error) => (error ? reject(error) : resolve())),
    );
  },
  'POST /remember': (req) => {
    req.session.cookie.maxAge = Number(req.query.ms);
  },
  'GET /list': async (req, res, t) => {
    res.locals.list = await t.sessions.list(String(req.query.user), req);
  },
  /** Loads the session, waits at the named gate, then does `then`. */
  'POST /hold': async (req, res, t) => {
    const gate = t.gates.get(String(req.query.gate));
    if (!gate) throw new Error('no such gate');
    await gate.pass();
    const then = req.query.then;
    if (then === 'set') (req.session as any).late = 'written after the revocation';
    if (then === 'regenerate') await routes['POST /regenerate']!(req, res, t);
    if (then === 'login') res.locals.login = await t.sessions.login(req, String(req.query.user));
    if (then === 'logout-others') res.locals.kept = await t.sessions.logoutOthers(req);
    if (then === 'save') {
      (req.session as any).late = 'saved after the revocation';
      await new Promise<void>((resolve, reject) =>
        req.session.save((error) => (error ? reject(error) : resolve())),
      );
    }
  },
};

export function makeExpressApp(
  options: Partial<ExpressSessionOptions> = {},
  extra: Record<string, Handler> = {},
  prebuilt?: ExpressSessions,
): ExpressTestApp {
  const redis = (options.redis as Redis | undefined) ?? newRedis();
  const app = express();
  const sessions = prebuilt ?? createExpressSessions({ secret: SECRET, ...options, redis });
  const t: ExpressTestApp = {
    app,
    sessions,
    // An ioredis client for inspecting what the store wrote (its own, or the node-redis client's twin).
    redis: inspectorOf(redis),
    agent: () => supertest.agent(app),
    gates: new Map(),
  };
  app.use(sessions.middleware);
  app.use(async (req, res, next) => {
    const handler = extra[`${req.method} ${req.path}`] ?? routes[`${req.method} ${req.path}`];
    if (!handler) {
      next();
      return;
    }
    await handler(req, res, t);
    if (res.headersSent) return;
    res.json({
      userId: sessions.userId(req) ?? null,
      data: dataOf(req),
      revoked: sessions.revokedReason(req)?.reason ?? null,
      ...res.locals,
    });
  });
  app.use((error: any, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    res.status(error.status ?? 500).json({ error: error.name, message: error.message });
  });
  return t;
}

/** A Cookie header carrying `value` as the session cookie, signed as express-session signs it. */
export function signedCookie(value: string, name = 'sid', secret = SECRET): string {
  return `${name}=${encodeURIComponent(signValue(value, secret))}`;
}

/** The unsigned session cookie value (our external key) a response set, or undefined. */
export function cookieValue(res: { headers: Record<string, unknown> }, name = 'sid'): string | undefined {
  const lines = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  const line = lines.find((l) => l.startsWith(`${name}=`) && !l.startsWith(`${name}=;`));
  if (!line) return undefined;
  const signed = decodeURIComponent(line.slice(name.length + 1).split(';')[0]!);
  return signed.startsWith('s:') ? signed.slice(2, signed.lastIndexOf('.')) : undefined;
}

/** The Cookie header a browser would send after this response (cookies set, minus those cleared). */
export function captured(res: { headers: Record<string, unknown> }, name = 'sid'): string | undefined {
  const lines = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  const jar = new Map<string, string>();
  for (const line of lines) {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const cookie = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '' || attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a))) jar.delete(cookie);
    else jar.set(cookie, value);
  }
  if (!jar.has(name)) return undefined;
  return [...jar].map(([cookie, value]) => `${cookie}=${value}`).join('; ');
}

/** A fresh browser holding only `cookie`: who is it, and what does it see? */
export async function replay(t: Pick<ExpressTestApp, 'app'>, cookie: string, path = '/whoami') {
  const res = await supertest(t.app).get(path).set('Cookie', cookie);
  return {
    status: res.status,
    userId: (res.body?.userId ?? null) as string | null,
    data: res.body?.data ?? null,
    body: res.body,
  };
}

export async function signedInAs(t: Pick<ExpressTestApp, 'app'>, cookie: string): Promise<string | null> {
  const res = await replay(t, cookie);
  if (res.status !== 200) throw new Error(`replay answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.userId;
}

/** Starts a request that loads the session and waits at a gate; returns the pending response. */
export async function holdRequest(
  t: ExpressTestApp,
  agent: ReturnType<ExpressTestApp['agent']>,
  then: string,
  extra = '',
) {
  const gate = new Gate();
  const name = `g${t.gates.size}`;
  t.gates.set(name, gate);
  const response = agent.post(`/hold?gate=${name}&then=${then}${extra}`).then((r) => r);
  await gate.arrived;
  return { gate, response };
}

/** Session keys reachable now: under their user's current epoch (older epochs are orphans). */
export async function liveSessionKeys(t: ExpressTestApp): Promise<string[]> {
  const keys = (await allKeys(t.redis, 'sess:{*}:*:*')).filter((k) => !/:(x|m):/.test(k));
  const live: string[] = [];
  for (const key of keys) {
    const [, tag, epoch] = /^sess:\{([^}]+)\}:([^:]+):/.exec(key)!;
    const current = await t.redis.get(`sess:{${tag}}:e`);
    if (current?.slice(0, 22) === epoch) live.push(key);
  }
  return live;
}

async function readBody(req: Request): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
