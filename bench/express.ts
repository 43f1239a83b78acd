// `npm run bench:express`: express-session on this store against connect-redis 10, same-run ratios as a Markdown table.
import { type ChildProcess, fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { RedisStore } from 'connect-redis';
import express, { type Express } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startRedisServer } from '../test/support/redis-server.js';
import { library } from './library.js';

const { createExpressSessions } = await library<typeof import('../lib/express/index.js')>('express/index.js');

/*
 * Each variant runs in its own app process (express 5, express-session 1.19, resave: false,
 * saveUninitialized: false, a one-day cookie), all on one private redis-server. Paths:
 * - signed-in read: GET /read with a signed-in cookie, rolling off (express-session still calls the
 *   store's touch on every request: connect-redis sends EXPIRE, this store skips a touch that
 *   would move the expiry by less than its touch window);
 * - rolling touch: the same with rolling: true (the cookie is re-sent on every response);
 * - change: POST /change writes a counter into the session on every request;
 * - login: POST /login without a cookie. This store: sessions.login (a new sid under the user's
 *   epoch, one script). connect-redis: the usual fixation-safe login, req.session.regenerate()
 *   and then the user id in the session.
 * Rounds alternate the variants' order; a ratio is the median of the per-round ratios.
 */

const SECRET = 'bench secret';
const DAY = 24 * 3600_000;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION = Number(process.env.BENCH_DURATION ?? 2);

type Variant = 'epoch' | 'epoch-node-redis' | 'connect-redis';
const VARIANTS: Variant[] = ['epoch', 'epoch-node-redis', 'connect-redis'];
const LABELS: Record<Variant, string> = {
  epoch: 'this store (ioredis, protocol: 2)',
  'epoch-node-redis': 'this store (node-redis)',
  'connect-redis': 'connect-redis 10 (node-redis)',
};

// --- the app processes ---

async function serve(variant: Variant, rolling: boolean): Promise<void> {
  const url = process.env.BENCH_REDIS_URL!;
  const app: Express = express();
  if (variant === 'connect-redis') {
    const client = createClient({ url });
    await client.connect();
    app.use(
      session({
        store: new RedisStore({ client }),
        secret: SECRET,
        name: 'sid',
        resave: false,
        saveUninitialized: false,
        rolling,
        cookie: { maxAge: DAY, httpOnly: true, sameSite: 'lax' },
      }),
    );
    const user = (req: express.Request) => (req.session as unknown as { userId?: string }).userId ?? null;
    app.post('/login', (req, res, next) => {
      req.session.regenerate((error) => {
        if (error) return next(error);
        (req.session as unknown as { userId: string }).userId = String(req.query.user);
        res.json({ user: user(req) });
      });
    });
    app.get('/read', (req, res) => res.json({ user: user(req) }));
    app.post('/change', (req, res) => {
      const data = req.session as unknown as { n?: number };
      data.n = (data.n ?? 0) + 1;
      res.json({ user: user(req) });
    });
  } else {
    // The same client as connect-redis, or ioredis: the store accepts either.
    const redis = variant === 'epoch' ? new Redis(url, { protocol: 2 }) : createClient({ url });
    if (!(redis instanceof Redis)) await redis.connect();
    const sessions = createExpressSessions({ redis, secret: SECRET, maxAge: DAY, rolling });
    app.use(sessions.middleware);
    app.post('/login', async (req, res) => {
      await sessions.login(req, String(req.query.user));
      res.json({ user: sessions.userId(req) ?? null });
    });
    app.get('/read', (req, res) => res.json({ user: sessions.userId(req) ?? null }));
    app.post('/change', (req, res) => {
      const data = req.session as unknown as { n?: number };
      data.n = (data.n ?? 0) + 1;
      res.json({ user: sessions.userId(req) ?? null });
    });
  }
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send!({ port: typeof address === 'object' && address ? address.port : 0 });
  });
}

// --- the load ---

interface App {
  variant: Variant;
  rolling: boolean;
  url: string;
  child: ChildProcess;
  cookies: string[];
}

async function startApp(variant: Variant, rolling: boolean, redisUrl: string): Promise<App> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', variant, rolling ? 'rolling' : 'plain'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_REDIS_URL: redisUrl, NODE_ENV: 'production' },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`bench: the ${variant} app exited with ${code}`)));
  });
  return { variant, rolling, url: `http://127.0.0.1:${port}`, child, cookies: [] };
}

/** Signs a user in through the app and returns the Cookie header a browser would send back. */
async function signIn(app: App, user: string): Promise<string> {
  const res = await fetch(`${app.url}/login?user=${user}`, { method: 'POST' });
  const cookie = res.headers
    .getSetCookie()
    .map((line) => line.split(';')[0]!)
    .find((pair) => pair.startsWith('sid='));
  if (res.status !== 200 || !cookie) throw new Error(`bench: login on ${app.variant} failed (${res.status})`);
  const check = (await (await fetch(`${app.url}/read`, { headers: { cookie } })).json()) as { user: unknown };
  if (check.user !== user) throw new Error(`bench: ${app.variant} did not read back ${user}`);
  return cookie;
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

interface Path {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  rolling: boolean;
  signedIn: boolean;
}

const PATHS: Path[] = [
  { name: 'signed-in read', method: 'GET', path: '/read', rolling: false, signedIn: true },
  { name: 'rolling touch', method: 'GET', path: '/read', rolling: true, signedIn: true },
  { name: 'change', method: 'POST', path: '/change', rolling: false, signedIn: true },
  { name: 'login', method: 'POST', path: '/login?user=bench-login', rolling: false, signedIn: false },
];

async function run(app: App, path: Path, duration: number) {
  let client = 0;
  const result = await autocannon({
    url: app.url + path.path,
    method: path.method,
    connections: CONNECTIONS,
    duration,
    setupClient: (c) => {
      const cookie = path.signedIn ? app.cookies[client++ % app.cookies.length] : undefined;
      c.setHeaders(cookie ? { cookie } : {});
    },
    // Every route answers {"user": ...}: null means the request lost its session.
    verifyBody: (body) => !body.includes(':null'),
  });
  return {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    failures: result.non2xx + result.errors + result.mismatches,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  if (load >= 2)
    console.error(`bench:express: the 1-minute load is ${load.toFixed(2)}; figures will be noisy`);
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  const apps: App[] = [];
  try {
    for (const variant of VARIANTS) {
      for (const rolling of [false, true]) apps.push(await startApp(variant, rolling, server.url));
    }
    for (const app of apps) {
      for (let i = 0; i < CONNECTIONS; i++) app.cookies.push(await signIn(app, `bench-user-${i}`));
    }
    const rows: string[] = [];
    for (const path of PATHS) {
      const group = VARIANTS.map(
        (variant) => apps.find((a) => a.variant === variant && a.rolling === path.rolling)!,
      );
      for (const app of group) await run(app, path, 1); // warm-up
      const rps = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
      const commands = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<
        Variant,
        number[]
      >;
      for (let round = 0; round < ROUNDS; round++) {
        // Each variant goes first, middle and last in turn.
        const order = group.map((_, i) => group[(i + round) % group.length]!);
        for (const app of order) {
          const before = await commandsProcessed(admin);
          const result = await run(app, path, DURATION);
          const after = await commandsProcessed(admin);
          if (result.failures > 0) {
            throw new Error(`bench: ${app.variant} ${path.name}: ${result.failures} failed requests`);
          }
          rps[app.variant].push(result.rps);
          // INFO itself is one command; the app's requests still in flight at the end add a little.
          commands[app.variant].push((after - before - 1) / result.requests);
        }
      }
      const ratio = (v: Variant) => median(rps[v].map((value, i) => value / rps['connect-redis'][i]!));
      rows.push(
        `| ${path.name} | ${median(rps.epoch).toFixed(0)} | ${median(rps['epoch-node-redis']).toFixed(0)} | ` +
          `${median(rps['connect-redis']).toFixed(0)} | ${ratio('epoch').toFixed(2)}x | ` +
          `${ratio('epoch-node-redis').toFixed(2)}x | ${median(commands.epoch).toFixed(2)} / ` +
          `${median(commands['connect-redis']).toFixed(2)} |`,
      );
      console.error(`bench:express: ${path.name} done`);
    }
    console.log(
      [
        `Express 5 + express-session 1.19, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s, ` +
          `1-minute load ${load.toFixed(2)} at the start; ratio = median of same-round ratios.`,
        '',
        `| path | ${VARIANTS.map((v) => `${LABELS[v]} req/s`).join(' | ')} | ratio, ioredis | ratio, node-redis | Redis commands per request (this / connect-redis) |`,
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...rows,
      ].join('\n'),
    );
  } finally {
    for (const app of apps) app.child.kill();
    admin.disconnect();
    await server.stop();
  }
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as Variant, process.argv[4] === 'rolling');
else await main();
