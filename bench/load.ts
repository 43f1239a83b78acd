// HTTP load with autocannon on loopback: signing in through the real apps, then measuring one route.
import autocannon from 'autocannon';
import { COOKIE_NAME, USER_AGENT } from './fixtures.js';
import type { AppProcess } from './processes.js';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Responses that were not 2xx, connection errors, and bodies that named no signed-in user. */
  failures: number;
}

export interface LoadOptions {
  path: string;
  method?: 'GET' | 'POST';
  /** One cookie header per connection (a different visitor on each), or none. */
  cookies?: string[];
  connections: number;
  duration?: number;
  amount?: number;
}

/** The Cookie header a browser would send back from these Set-Cookie lines: the session cookie and its signature. */
function cookieHeader(app: AppProcess, res: Response, what: string): string {
  const pairs = res.headers.getSetCookie().map((line) => line.split(';')[0]!);
  const session = pairs.find((pair) => pair.startsWith(`${COOKIE_NAME}=`));
  const signature = pairs.find((pair) => pair.startsWith(`${COOKIE_NAME}.sig=`));
  if (app.spec.store !== 'none' && (!session || !signature)) {
    throw new Error(`bench: ${what} on ${app.spec.store} set no signed session cookie`);
  }
  return [session, signature].filter(Boolean).join('; ');
}

/**
 * Signs a user in through the app's own POST /login and returns the Cookie header a browser
 * would send back: the session cookie and its signature.
 */
export async function signIn(app: AppProcess, userId: string): Promise<string> {
  const res = await fetch(`${app.url}/login?user=${encodeURIComponent(userId)}`, {
    method: 'POST',
    headers: { 'user-agent': USER_AGENT },
  });
  if (res.status !== 200) throw new Error(`bench: login on ${app.spec.store} answered ${res.status}`);
  const cookie = cookieHeader(app, res, 'login');
  // The cookie must reach the signed-in session, or the read benchmark would measure anonymous requests.
  const check = await fetch(`${app.url}/read`, { headers: { cookie, 'user-agent': USER_AGENT } });
  const body = (await check.json()) as { user: unknown };
  const expected = app.spec.store === 'none' ? 'none' : userId;
  if (body.user !== expected) throw new Error(`bench: ${app.spec.store} did not read back ${userId}`);
  return cookie;
}

/**
 * An anonymous visitor: a POST /cart stores data in a new session (no sign-in), and the cookie
 * it sets must read the cart back.
 */
export async function visitAnonymously(app: AppProcess): Promise<string> {
  const res = await fetch(`${app.url}/cart`, { method: 'POST', headers: { 'user-agent': USER_AGENT } });
  if (res.status !== 200) throw new Error(`bench: POST /cart on ${app.spec.store} answered ${res.status}`);
  const cookie = cookieHeader(app, res, 'POST /cart');
  const check = await fetch(`${app.url}/cart`, { headers: { cookie, 'user-agent': USER_AGENT } });
  const body = (await check.json()) as { cart: unknown };
  if (typeof body.cart !== 'number' || body.cart === 0)
    throw new Error(`bench: ${app.spec.store} did not read back an anonymous cart`);
  return cookie;
}

export async function load(app: AppProcess, options: LoadOptions): Promise<LoadResult> {
  const cookies = options.cookies ?? [];
  let client = 0;
  const instance = autocannon({
    url: app.url + options.path,
    method: options.method ?? 'GET',
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.duration ?? 1 } : { amount: options.amount }),
    headers: { 'user-agent': USER_AGENT },
    setupClient: (c) => {
      const cookie = cookies[client++ % Math.max(cookies.length, 1)];
      c.setHeaders(cookie ? { 'user-agent': USER_AGENT, cookie } : { 'user-agent': USER_AGENT });
    },
    // Every route answers {"user": ...} or {"cart": ...}: null means the request lost its session.
    verifyBody: (body) => !body.includes(':null'),
  });
  // autocannon's own histogram has 1 ms resolution; its response event carries the hrtime duration.
  const latencies: number[] = [];
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await instance;
  const requests = result.requests.total;
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return {
    requests,
    rps: requests / result.duration,
    p50: percentile(0.5),
    p99: percentile(0.99),
    failures: result.non2xx + result.errors + result.mismatches,
  };
}
