// A Koa app wired with createSessions, driven through app.callback() by supertest: no listening port.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import Koa, { type Context } from 'koa';
import supertest from 'supertest';
import { createSessions, type EpochSessionOptions, type Sessions } from '../../lib/index.js';
import { inspectorOf, nodeRedisFor, TEST_CLIENT } from './clients.js';
import { testClusterNodes, testRedisUrl } from './hooks.js';

export { inspectorOf } from './clients.js';

export const APP_KEYS = ['test-signing-key-1'];
const closers: (() => Promise<unknown>)[] = [];

/**
 * A client of the suite's Redis. Under `KES_TEST_CLUSTER=1` it is a Cluster client of a local
 * cluster, typed as Redis: the tests only send it single-key commands, which route by key.
 * Under `KES_TEST_CLIENT=node-redis` it is a node-redis client (createClient, or createCluster),
 * so the store under test runs on node-redis; the few ioredis methods the tests inspect with
 * (hset, pexpire, ...) run on an ioredis twin, and `inspectorOf()` gives that twin whole.
 */
export function newRedis(options: RedisOptions = {}): Redis {
  const nodes = testClusterNodes();
  if (TEST_CLIENT === 'node-redis') {
    const made = nodeRedisFor(options, testRedisUrl(), nodes);
    closers.push(made.close);
    return made.client;
  }
  const client = nodes
    ? (new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1, ...options } }) as unknown as Redis)
    : new Redis(testRedisUrl(), { maxRetriesPerRequest: 1, ...options });
  closers.push(() => client.quit().catch(() => client.disconnect()));
  return client;
}

export async function closeClients(): Promise<void> {
  await Promise.all(closers.splice(0).map((close) => close()));
}

/** A gate a route can wait on, so a test can run a revocation while a request is in flight. */
export class Gate {
  reached!: () => void;
  release!: () => void;
  readonly arrived = new Promise<void>((r) => {
    this.reached = r;
  });
  readonly opened = new Promise<void>((r) => {
    this.release = r;
  });
  async pass(): Promise<void> {
    this.reached();
    await this.opened;
  }
}

export interface TestApp {
  app: Koa;
  sessions: Sessions;
  /** An ioredis client for inspecting what the store wrote (the store's own, or its ioredis twin). */
  redis: Redis;
  agent: () => ReturnType<typeof supertest.agent>;
  gates: Map<string, Gate>;
}

type Handler = (ctx: Context, t: TestApp) => Promise<void> | void;

/**
 * Routes used across the functional tests. Every one answers JSON with who the request is,
 * so a test can assert on the session a cookie reaches.
 */
const routes: Record<string, Handler> = {
  'GET /whoami': () => {},
  'POST /login': async (ctx, t) => {
    // Long ids (10 KB) travel in the body: they would not fit in a request line.
    const user = ctx.query.user === undefined ? await readBody(ctx) : String(ctx.query.user);
    const result = await t.sessions.login(ctx, user);
    ctx.state.login = result;
  },
  'POST /set': (ctx) => {
    for (const [k, v] of Object.entries(ctx.query)) ctx.session![k] = v;
  },
  'POST /logout': async (ctx, t) => {
    await t.sessions.logout(ctx);
  },
  'POST /logout-others': async (ctx, t) => {
    const reason = ctx.query.reason === undefined ? undefined : String(ctx.query.reason);
    ctx.state.kept = await t.sessions.logoutOthers(ctx, { reason });
  },
  'POST /regenerate': async (ctx) => {
    await ctx.session!.regenerate();
  },
  'GET /list': async (ctx, t) => {
    ctx.state.list = await t.sessions.list(String(ctx.query.user), ctx);
  },
  /** Loads the session, waits at the named gate, then does `then`: set, touch or regenerate. */
  'POST /hold': async (ctx, t) => {
    const gate = t.gates.get(String(ctx.query.gate));
    if (!gate) throw new Error('no such gate');
    void ctx.session;
    await gate.pass();
    if (ctx.query.then === 'set') ctx.session!.late = 'written after the revocation';
    if (ctx.query.then === 'regenerate') await ctx.session!.regenerate();
    if (ctx.query.then === 'login') ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user));
    if (ctx.query.then === 'logout-others') ctx.state.kept = await t.sessions.logoutOthers(ctx);
  },
};

export function makeApp(
  options: Partial<EpochSessionOptions> = {},
  extra: Record<string, Handler> = {},
): TestApp {
  const redis = (options.redis as Redis | undefined) ?? newRedis();
  const app = new Koa();
  app.keys = APP_KEYS;
  app.silent = true;
  const sessions = createSessions(app, { ...options, redis });
  const t: TestApp = {
    app,
    sessions,
    redis: inspectorOf(redis),
    agent: () => supertest.agent(app.callback()),
    gates: new Map(),
  };
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const err = error as { status?: number; name?: string; message?: string };
      ctx.status = err.status ?? 500;
      ctx.body = { error: err.name, message: err.message };
    }
  });
  app.use(sessions.middleware);
  app.use(async (ctx) => {
    const handler = extra[`${ctx.method} ${ctx.path}`] ?? routes[`${ctx.method} ${ctx.path}`];
    if (!handler) return ctx.throw(404);
    await handler(ctx, t);
    ctx.body = {
      userId: sessions.userId(ctx) ?? null,
      data: ctx.session ? ctx.session.toJSON() : null,
      revoked: sessions.revokedReason(ctx)?.reason ?? null,
      ...ctx.state,
    };
  });
  return t;
}

/** Every Set-Cookie line of a response. */
export function setCookieLines(res: { headers: Record<string, unknown> }): string[] {
  const header = res.headers['set-cookie'];
  return Array.isArray(header) ? header : header === undefined ? [] : [String(header)];
}

/** The Set-Cookie lines of the session cookie and of its signature. */
export function sessionCookieLines(res: { headers: Record<string, unknown> }, name = 'sid'): string[] {
  return setCookieLines(res).filter((line) => line.startsWith(`${name}=`) || line.startsWith(`${name}.sig=`));
}

/**
 * Starts a request that loads the session and waits at a gate (the `/hold` route), then does
 * `then` once the gate opens: set, regenerate, login, logout-others. Returns the pending response.
 */
export async function holdRequest(t: TestApp, agent: ReturnType<TestApp['agent']>, then: string) {
  const gate = new Gate();
  const name = `g${t.gates.size}`;
  t.gates.set(name, gate);
  const response = agent
    .post(`/hold?gate=${name}&then=${then}`)
    .expect(200)
    .then((r) => r);
  await gate.arrived;
  return { gate, response };
}

/** The session cookie (name=value) from a response, or undefined. */
export function sessionCookie(res: { headers: Record<string, unknown> }, name = 'sid'): string | undefined {
  const cookies = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  const line = cookies.find((c) => c.startsWith(`${name}=`));
  return line?.split(';')[0];
}

export function cookieValue(res: { headers: Record<string, unknown> }, name = 'sid'): string | undefined {
  return sessionCookie(res, name)?.slice(name.length + 1);
}

async function readBody(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
