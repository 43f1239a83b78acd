// The README's first code sample, taken from README.md, and what a person would check by hand with it running.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import supertest from 'supertest';

const README = new URL('../../README.md', import.meta.url);

/** The first ```ts block of README.md: the complete example a newcomer copies. */
export function readmeSample(): string {
  const sample = /```ts\n([\s\S]*?)```/.exec(readFileSync(README, 'utf8'))?.[1];
  if (!sample) throw new Error('README.md has no ```ts block');
  expect(sample).to.include("from 'koa-epoch-session'");
  return sample;
}

function clearsCookie(res: supertest.Response, name = 'sid'): boolean {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return cookies.some((c) => c.startsWith(`${name}=;`) && /expires=Thu, 01 Jan 1970/i.test(c));
}

/**
 * Drives the sample served at `base` as two browsers of one user would: a refused login without a
 * user, a login on each device, the device list, sign-out-everywhere from one, and logout.
 */
export async function exerciseReadmeSample(base: string): Promise<void> {
  const laptop = supertest.agent(base);
  const phone = supertest.agent(base);

  // A login that names no user is refused: it never signs in a user called "undefined".
  for (const path of ['/login', '/login?user=']) {
    const refused = await laptop.post(path).expect(400);
    expect(refused.headers['set-cookie'], `${path} sets no cookie`).to.equal(undefined);
  }
  expect((await laptop.get('/').expect(200)).body).to.deep.include({ userId: null });

  const login = await laptop.post('/login?user=alice').expect(200);
  expect(login.body.userId).to.equal('alice');
  expect(login.body.devices).to.have.length(1);
  expect(login.body.devices[0].current).to.equal(true);
  const second = await phone.post('/login?user=alice').expect(200);
  expect(second.body.devices).to.have.length(2);

  // Signing out everywhere answers as signed out, clears this browser's cookie, and ends the other device.
  const everywhere = await laptop.post('/sign-out-everywhere').expect(200);
  expect(everywhere.body).to.deep.include({ userId: null, devices: [] });
  expect(clearsCookie(everywhere), 'sign-out-everywhere clears the caller cookie').to.equal(true);
  expect((await laptop.get('/').expect(200)).body).to.deep.include({ userId: null });
  expect((await phone.get('/').expect(200)).body).to.deep.include({
    userId: null,
    signedOutBecause: 'password-changed',
  });

  await phone.post('/login?user=alice').expect(200);
  const logout = await phone.post('/logout').expect(200);
  expect(logout.body).to.deep.include({ userId: null });
  expect(clearsCookie(logout), 'logout clears the cookie').to.equal(true);
  expect((await phone.get('/').expect(200)).body).to.deep.include({ userId: null });
}
