// Shared by the demo's HTTP and browser tests: a demo app on the test Redis, and form helpers.
import type { Redis } from 'ioredis';
import type supertest from 'supertest';
import { createDemoApp, type DemoApp, type DemoOptions } from '../../demo/app.js';
import { closeClients, newRedis } from '../support/app.js';

export { closeClients };

/** A demo app on the suite's Redis (flushed after every test), with its accounts seeded. */
export async function makeDemo(options: Partial<DemoOptions> = {}): Promise<DemoApp & { redis: Redis }> {
  const redis = (options.redis as Redis | undefined) ?? newRedis();
  const demo = createDemoApp({ silent: true, ...options, redis });
  await demo.accounts.seed();
  return { ...demo, redis };
}

/**
 * Resolves once the demo's onLogin hook has written its "new sign-in" notices. The hook runs
 * after login() returns (off the request's path), so a test waits for it instead of sleeping.
 */
export function noticesWritten(demo: DemoApp): Promise<void> {
  const { notices } = demo;
  const original = notices.record.bind(notices);
  return new Promise((resolve, reject) => {
    notices.record = async (event) => {
      notices.record = original;
      try {
        await original(event);
        resolve();
      } catch (error) {
        reject(error);
      }
    };
  });
}

export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF field on the page');
  return match[1]!;
}

type Agent = ReturnType<typeof supertest.agent>;
type Response = Awaited<ReturnType<Agent['get']>>;

/** Checks the status, showing the page when it is not the one expected. */
function expectStatus(res: Response, status: number | undefined): Response {
  if (status !== undefined && res.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${res.status}:\n${res.text.slice(0, 1500)}`);
  }
  return res;
}

/** Opens the sign-in page, then posts the form with its token. */
export async function signIn(
  agent: Agent,
  username: string,
  password: string,
  options: { expect?: number; userAgent?: string } = {},
): Promise<Response> {
  const userAgent = options.userAgent ?? 'supertest';
  const page = await agent.get('/signin').set('User-Agent', userAgent);
  const res = await agent
    .post('/signin')
    .set('User-Agent', userAgent)
    .type('form')
    .send({ _csrf: csrfFrom(page.text), username, password });
  return expectStatus(res, options.expect);
}

/** Posts a form from a signed-in page, with the token that page carries. */
export async function postForm(
  agent: Agent,
  from: string,
  action: string,
  fields: Record<string, string> = {},
  expected?: number,
): Promise<Response> {
  const page = await agent.get(from);
  const res = await agent
    .post(action)
    .type('form')
    .send({ _csrf: csrfFrom(page.text), ...fields });
  return expectStatus(res, expected);
}

/** A page that failed politely: no stack frames, no error class names, no file paths. */
export function assertNoStackTrace(text: string): void {
  if (/\n\s+at\s|Error:|node_modules|\.ts:\d+/.test(text)) {
    throw new Error(`the response leaks internals:\n${text.slice(0, 2000)}`);
  }
}
