// Capturing the cookies a response set and replaying them, as an attacker holding a copy would: never parsed, never built.
import supertest from 'supertest';
import type { TestApp } from './app.js';

type Response = { headers: Record<string, unknown> };

/**
 * The Cookie header a browser would send after this response: every cookie it set (the session
 * cookie, its signature, any companion), without the ones it cleared. Undefined when it set no
 * session cookie (`name`), so a test can tell "no new cookie" from "a new cookie".
 */
export function captured(res: Response, name = 'sid'): string | undefined {
  const lines = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  const jar = new Map<string, string>();
  for (const line of lines) {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const cookie = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const cleared = value === '' || attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
    if (cleared) jar.delete(cookie);
    else jar.set(cookie, value);
  }
  if (!jar.has(name)) return undefined;
  return [...jar].map(([cookie, value]) => `${cookie}=${value}`).join('; ');
}

/** The request a fresh browser holding only `cookie` makes: who is it, and what data does it see? */
export async function replay(
  t: Pick<TestApp, 'app'>,
  cookie: string,
  path = '/whoami',
): Promise<{ status: number; userId: string | null; data: Record<string, unknown> | null; body: any }> {
  const res = await supertest(t.app.callback()).get(path).set('Cookie', cookie);
  return {
    status: res.status,
    userId: res.body?.userId ?? null,
    data: res.body?.data ?? null,
    body: res.body,
  };
}

/** The user a replayed cookie reaches, or null. */
export async function signedInAs(t: Pick<TestApp, 'app'>, cookie: string): Promise<string | null> {
  const res = await replay(t, cookie);
  if (res.status !== 200)
    throw new Error(`replaying a cookie answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.userId;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
