// Issue 11, case 9: cookie options that would make every response fail are refused at start-up, naming the option.
import { expect } from 'chai';
import Koa from 'koa';
import supertest from 'supertest';
import { createSessions, type EpochSessionOptions } from '../../lib/index.js';
import { APP_KEYS, closeClients, newRedis } from '../support/app.js';
import { captured } from '../support/replay.js';

function start(options: Partial<EpochSessionOptions>) {
  const app = new Koa();
  app.keys = APP_KEYS;
  app.silent = true;
  const sessions = createSessions(app, { redis: newRedis(), ...options });
  return { app, sessions };
}

describe('hardening (issue 11): cookie options checked at start-up (invariant 8)', () => {
  afterEach(closeClients);

  const refused: [string, Partial<EpochSessionOptions>, RegExp][] = [
    ['domain', { domain: 'exa mple.com' }, /domain/],
    ['domain', { domain: 'a;b' }, /domain/],
    ['domain', { domain: 'example.com\r\nSet-Cookie: x=1' }, /domain/],
    ['path', { path: '/a;b' }, /path/],
    ['path', { path: '/a\nb' }, /path/],
    ['path', { path: '/a\u0000b' }, /path/],
    ['path', { path: '/a\u007fb' }, /path/],
    ['sameSite', { sameSite: 'none' }, /sameSite/],
    ['sameSite', { sameSite: 'none', secure: false }, /sameSite/],
  ];
  /** JSON with DEL spelled out too (JSON already escapes the other control characters). */
  const show = (options: object) => JSON.stringify(options).replaceAll('\u007f', '\\u007f');
  for (const [name, options, message] of refused) {
    it(`invariant 8: refuses ${name} ${show(options)} at start-up with a TypeError naming ${name}`, () => {
      expect(() => start(options)).to.throw(TypeError, message);
    });
  }

  it('invariant 8 (control): valid domain, path and sameSite "none" with secure: true start and set the cookie', async () => {
    const { app, sessions } = start({ domain: 'example.com', path: '/app', sameSite: 'none', secure: true });
    app.use(sessions.middleware);
    app.use((ctx) => {
      ctx.session!.n = 1;
      ctx.body = 'ok';
    });
    // secure cookies need an HTTPS request as Koa sees it: behind a proxy that says so.
    app.proxy = true;
    const res = await supertest(app.callback()).get('/app').set('X-Forwarded-Proto', 'https').expect(200);
    expect(captured(res)).to.be.a('string');
    const line = (res.headers['set-cookie'] as unknown as string[]).find((l) => l.startsWith('sid='))!;
    expect(line)
      .to.match(/domain=example\.com/i)
      .and.match(/path=\/app/i)
      .and.match(/samesite=none/i);
  });
});
