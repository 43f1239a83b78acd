// The demo server over HTTP (no browser): status codes, CSRF, bad input, reasons, the status endpoint.
import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import supertest from 'supertest';
import { parseUserAgent } from '../../demo/user-agent.js';
import { freePort } from '../support/redis-server.js';
import {
  assertNoStackTrace,
  closeClients,
  csrfFrom,
  makeDemo,
  noticesWritten,
  postForm,
  signIn,
} from './demo-fixtures.js';

const LAPTOP =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

describe('demo server over HTTP', () => {
  afterEach(closeClients);

  describe('signing in', () => {
    it('sends visitors to sign-in, with a CSRF field and strict headers on every page', async () => {
      const { app } = await makeDemo();
      const agent = supertest.agent(app.callback());
      const home = await agent.get('/').expect(302);
      expect(home.headers.location).to.equal('/signin');
      const page = await agent.get('/signin').expect(200).expect('Content-Type', /html/);
      expect(csrfFrom(page.text)).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(page.headers['content-security-policy']).to.match(/default-src 'none'.*script-src 'sha256-/);
      expect(page.headers['cache-control']).to.equal('no-store');
      expect(page.headers['x-frame-options']).to.equal('DENY');
      expect(page.text).to.include('Demo accounts').and.include('wonderland');
    });

    it('signs in, shows who you are, when the session ends and this device; sets the companion cookie', async () => {
      const { app } = await makeDemo();
      const agent = supertest.agent(app.callback());
      const res = await signIn(agent, 'Alice ', 'wonderland', { expect: 303, userAgent: LAPTOP });
      expect(res.headers.location).to.equal('/');
      const cookies = (res.headers['set-cookie'] as unknown as string[]).join('\n');
      expect(cookies).to.match(/sid=[^;]+;.*httponly/i);
      const companion = /sid_expires=(\d+)/.exec(cookies);
      expect(Number(companion?.[1])).to.be.within(Date.now() + 29 * 60_000, Date.now() + 31 * 60_000);
      expect(cookies).to.not.match(/sid_expires=[^\n]*httponly/i);

      const home = await agent.get('/').set('User-Agent', LAPTOP).expect(200);
      expect(home.text).to.include('Alice Liddell').and.include('Session expires in');
      expect(home.text).to.match(/Chrome 126 on macOS<\/span><span class="badge">This device/);
      expect(home.text).to.include('data-companion="sid_expires"');
    });

    it('answers a wrong password and an unknown user alike: 401, one message, no session', async () => {
      const { app, redis } = await makeDemo();
      const agent = supertest.agent(app.callback());
      const wrong = await signIn(agent, 'alice', 'not-the-password', { expect: 401 });
      const unknown = await signIn(agent, 'mallory', 'whatever', { expect: 401 });
      for (const res of [wrong, unknown]) {
        expect(res.text).to.include('Wrong username or password.');
        assertNoStackTrace(res.text);
      }
      expect(wrong.text).to.include('value="alice"');
      expect((await redis.keys('demo:sess:{*')).length).to.equal(0, 'no signed-in session was created');
      const empty = await signIn(agent, '', '', { expect: 400 });
      expect(empty.text).to.include('Enter your username and your password.');
    });

    it('escapes what the visitor typed when it shows it again', async () => {
      const { app } = await makeDemo();
      const res = await signIn(supertest.agent(app.callback()), '"><script>alert(1)</script>', 'x', {
        expect: 401,
      });
      expect(res.text).to.not.include('<script>alert(1)</script>');
      expect(res.text).to.include('&quot;&gt;&lt;script&gt;');
    });

    it('throttles repeated failures with 429 and Retry-After', async () => {
      const { app } = await makeDemo({ failedSignInLimit: 2 });
      const agent = supertest.agent(app.callback());
      await signIn(agent, 'bob', 'nope', { expect: 401 });
      await signIn(agent, 'bob', 'nope', { expect: 401 });
      const blocked = await signIn(agent, 'bob', 'can-we-fix-it', { expect: 429 });
      expect(Number(blocked.headers['retry-after'])).to.be.within(1, 15 * 60);
      expect(blocked.text).to.include('Too many failed sign-ins');
    });
  });

  describe('forged and malformed requests', () => {
    it('refuses a missing, wrong or cross-site CSRF token with a 403 page', async () => {
      const { app } = await makeDemo();
      const agent = supertest.agent(app.callback());
      const page = await agent.get('/signin');
      const token = csrfFrom(page.text);
      const form = { username: 'alice', password: 'wonderland' };
      const altered = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
      const cases = [
        agent.post('/signin').type('form').send(form),
        agent
          .post('/signin')
          .type('form')
          .send({ ...form, _csrf: altered }),
        agent
          .post('/signin')
          .type('form')
          .send({ ...form, _csrf: 'short' }),
        agent
          .post('/signin')
          .set('Origin', 'https://evil.example')
          .type('form')
          .send({ ...form, _csrf: token }),
        // A fresh browser with no session at all, as a cross-site form post would be.
        supertest(app.callback())
          .post('/signin')
          .type('form')
          .send({ ...form, _csrf: token }),
      ];
      for (const [i, res] of (await Promise.all(cases)).entries()) {
        expect(res.status, `case ${i}`).to.equal(403);
        expect(res.text).to.include('This form has expired or was not sent from this site.');
        assertNoStackTrace(res.text);
      }
      // The genuine form still works afterwards.
      await agent
        .post('/signin')
        .type('form')
        .send({ ...form, _csrf: token })
        .expect(303);
    });

    it('needs the token to sign out, and to act on devices', async () => {
      const { app } = await makeDemo();
      const agent = supertest.agent(app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      await agent.post('/signout').type('form').send({}).expect(403);
      await agent.post('/devices/sign-out-others').type('form').send({ _csrf: 'x' }).expect(403);
      await agent.get('/').expect(200);
    });

    it('answers 413 to oversized forms and fields, 415 to other content types', async () => {
      const { app } = await makeDemo();
      const agent = supertest.agent(app.callback());
      const token = csrfFrom((await agent.get('/signin')).text);
      const big = await agent
        .post('/signin')
        .type('form')
        .send({ _csrf: token, username: 'alice', password: 'x'.repeat(20_000) })
        .expect(413);
      expect(big.text).to.include('The form is too large');
      const longName = await agent
        .post('/signin')
        .type('form')
        .send({ _csrf: token, username: 'a'.repeat(65), password: 'x' })
        .expect(413);
      expect(longName.text).to.include('The username is too long');
      const longPassword = await agent
        .post('/signin')
        .type('form')
        .send({ _csrf: token, username: 'alice', password: 'x'.repeat(1025) })
        .expect(413);
      expect(longPassword.text).to.include('The password is too long');
      const json = await agent.post('/signin').send({ _csrf: token, username: 'alice' }).expect(415);
      for (const res of [big, longName, longPassword, json]) assertNoStackTrace(res.text);
      // The connection and the session survive all of that.
      await agent
        .post('/signin')
        .type('form')
        .send({ _csrf: token, username: 'alice', password: 'wonderland' })
        .expect(303);
    });

    it('treats garbage cookies as no session at all', async () => {
      const { app } = await makeDemo();
      const garbage = [
        'sid=garbage',
        'sid=garbage; sid.sig=forged',
        'sid=%E0%A4%A; sid.sig=%%%',
        'sid={"user":"admin"}; sid.sig=AAAA',
        `sid=${'A'.repeat(4000)}; sid.sig=${'B'.repeat(27)}`,
        'sid_expires=not-a-number',
        'sid=; sid.sig=; sid_expires=',
        '=; ;;; sid',
      ];
      for (const cookie of garbage) {
        const home = await supertest(app.callback()).get('/').set('Cookie', cookie);
        expect(home.status, cookie).to.equal(302);
        const signin = await supertest(app.callback()).get('/signin').set('Cookie', cookie);
        expect(signin.status, cookie).to.equal(200);
        assertNoStackTrace(signin.text);
        const status = await supertest(app.callback())
          .get('/session/status')
          .set('Cookie', cookie)
          .expect(200);
        expect(status.body).to.deep.equal({ alive: false, userId: null, expiresAt: null });
      }
    });

    it('has pages for unknown addresses and wrong methods', async () => {
      const { app } = await makeDemo();
      const missing = await supertest(app.callback()).get('/nope').expect(404);
      expect(missing.text).to.include('Page not found');
      const wrongMethod = await supertest(app.callback()).put('/signin').expect(405);
      expect(wrongMethod.text).to.include('Method not allowed');
      expect(wrongMethod.headers.allow).to.include('POST');
    });

    it('answers 503 with a page, not a stack trace, when Redis is down', async () => {
      const port = await freePort();
      const down = new Redis({
        port,
        host: '127.0.0.1',
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      down.on('error', () => {});
      try {
        const { createDemoApp } = await import('../../demo/app.js');
        const { app } = createDemoApp({ redis: down, silent: true });
        const errors: unknown[] = [];
        app.on('error', (error) => errors.push(error));
        const page = await supertest(app.callback()).get('/signin').expect(503);
        expect(page.text).to.include('Temporarily unavailable').and.include('cannot be reached');
        expect(page.headers['retry-after']).to.equal('5');
        assertNoStackTrace(page.text);
        const status = await supertest(app.callback())
          .get('/session/status')
          .set('Accept', 'application/json');
        expect([200, 503]).to.include(status.status);
        expect(errors, 'a 503 is expected, not an application error').to.deep.equal([]);
      } finally {
        down.disconnect();
      }
    });
  });

  describe('signed-out devices learn why', () => {
    it('status endpoint: signed out, signed in, then revoked with the reason', async () => {
      const { app, sessions } = await makeDemo();
      const agent = supertest.agent(app.callback());
      expect((await agent.get('/session/status').expect(200)).body).to.deep.equal({
        alive: false,
        userId: null,
        expiresAt: null,
      });
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      const alive = await agent.get('/session/status').expect(200).expect('Cache-Control', 'no-store');
      expect(alive.body).to.include({ alive: true, userId: 'alice' });
      expect(Date.parse(alive.body.expiresAt)).to.be.greaterThan(Date.now());
      await sessions.rotate('alice', { reason: 'password-changed' });
      const revoked = await agent.get('/session/status').expect(200);
      expect(revoked.body).to.deep.equal({
        alive: false,
        userId: null,
        expiresAt: null,
        reason: 'password-changed',
      });
      expect((revoked.headers['set-cookie'] as unknown as string[]).join('\n')).to.match(/sid_expires=;/);
    });

    it('changing the password signs the other device out with the reason; this one stays', async () => {
      const demo = await makeDemo();
      const laptop = supertest.agent(demo.app.callback());
      const phone = supertest.agent(demo.app.callback());
      await signIn(laptop, 'alice', 'wonderland', { expect: 303, userAgent: LAPTOP });
      await signIn(phone, 'alice', 'wonderland', { expect: 303, userAgent: PHONE });
      expect((await phone.get('/').set('User-Agent', PHONE)).text).to.include(
        'Your devices <span class="count">2',
      );

      const change = (next: string, confirm: string, current: string, status: number) =>
        postForm(laptop, '/account/password', '/account/password', { current, next, confirm }, status);
      const wrongCurrent = await change('new-secret-1', 'new-secret-1', 'nope', 403);
      expect(wrongCurrent.text).to.include('Your current password is not right.');
      const mismatch = await change('new-secret-1', 'new-secret-2', 'wonderland', 400);
      expect(mismatch.text).to.include('do not match');
      const short = await change('short', 'short', 'wonderland', 400);
      expect(short.text).to.include('at least 8 characters');
      await phone.get('/').expect(200);

      await change('new-secret-1', 'new-secret-1', 'wonderland', 303);
      const laptopHome = await laptop.get('/').expect(200);
      expect(laptopHome.text)
        .to.include('Password changed.')
        .and.include('Your devices <span class="count">1');

      const bounced = await phone.get('/').expect(302);
      expect(bounced.headers.location).to.equal('/signin');
      const signin = await phone.get('/signin').expect(200);
      expect(signin.text).to.include('Your password was changed on another device');
      await signIn(phone, 'alice', 'wonderland', { expect: 401 });
      await signIn(phone, 'alice', 'new-secret-1', { expect: 303 });
    });

    it('signs out one device, or all the others, each with its reason', async () => {
      const demo = await makeDemo();
      const [a, b, c] = [1, 2, 3].map(() => supertest.agent(demo.app.callback()));
      for (const agent of [a!, b!, c!]) await signIn(agent, 'bob', 'can-we-fix-it', { expect: 303 });
      expect(await demo.sessions.list('bob')).to.have.length(3);

      // Device a signs out device b, whose id b's own page shows on its "This device" row.
      const bHome = await b!.get('/').expect(200);
      const bId = /<tr class="current" data-session-id="([^"]+)"/.exec(bHome.text)![1]!;
      const revoked = await postForm(a!, '/', `/devices/${bId}/sign-out`, {}, 303);
      expect(revoked.headers.location).to.equal('/');
      expect((await a!.get('/')).text).to.include('That device has been signed out.');
      await b!.get('/').expect(302);
      expect((await b!.get('/signin')).text).to.include('This device was signed out from another device.');

      await postForm(a!, '/', `/devices/${bId}/sign-out`, {}, 303);
      expect((await a!.get('/')).text).to.include('That device was already signed out.');
      await postForm(a!, '/', '/devices/not*a*handle/sign-out', {}, 400);

      await postForm(a!, '/', '/devices/sign-out-others', {}, 303);
      expect((await a!.get('/')).text).to.include('Every other device has been signed out.');
      await c!.get('/').expect(302);
      expect((await c!.get('/signin')).text).to.include(
        'You chose “Sign out all other devices” on another device.',
      );
    });

    it('shows a "new sign-in" notice once on the other devices', async () => {
      const demo = await makeDemo();
      const laptop = supertest.agent(demo.app.callback());
      const phone = supertest.agent(demo.app.callback());
      await signIn(laptop, 'alice', 'wonderland', { expect: 303, userAgent: LAPTOP });
      const written = noticesWritten(demo);
      await signIn(phone, 'alice', 'wonderland', { expect: 303, userAgent: PHONE });
      await written;
      const first = await laptop.get('/').expect(200);
      expect(first.text)
        .to.include('New sign-in to your account')
        .and.include('Safari 17 on iOS from 127.0.0.1');
      const again = await laptop.get('/').expect(200);
      expect(again.text).to.not.include('New sign-in to your account');
      expect((await phone.get('/')).text).to.not.include('New sign-in to your account');
    });

    it('at the device limit, evicts the oldest session (which is told why) or refuses with 409', async () => {
      const evicting = await makeDemo({ maxSessions: 2 });
      const [first, second, third] = [1, 2, 3].map(() => supertest.agent(evicting.app.callback()));
      for (const agent of [first!, second!, third!])
        await signIn(agent, 'bob', 'can-we-fix-it', { expect: 303 });
      expect(await evicting.sessions.list('bob')).to.have.length(2);
      await first!.get('/').expect(302);
      expect((await first!.get('/signin')).text).to.include(
        'this device, the oldest session, was signed out',
      );
      await second!.get('/').expect(200);

      const refusing = await makeDemo({ maxSessions: 1, sessionLimitPolicy: 'reject' });
      const one = supertest.agent(refusing.app.callback());
      const two = supertest.agent(refusing.app.callback());
      await signIn(one, 'alice', 'wonderland', { expect: 303 });
      const refused = await signIn(two, 'alice', 'wonderland', { expect: 409 });
      expect(refused.text).to.include('already signed in on 1 devices');
      assertNoStackTrace(refused.text);
    });
  });

  describe('admin', () => {
    it('lets only admins force a user off every device', async () => {
      const demo = await makeDemo();
      const alice = supertest.agent(demo.app.callback());
      const admin = supertest.agent(demo.app.callback());
      await signIn(alice, 'alice', 'wonderland', { expect: 303 });
      const forbidden = await alice.get('/admin').expect(403);
      expect(forbidden.text).to.include('Only administrators');
      await postForm(alice, '/', '/admin/users/bob/sign-out', {}, 403);

      await signIn(admin, 'admin', 'admin-demo', { expect: 303 });
      const page = await admin.get('/admin').expect(200);
      expect(page.text).to.include('Alice Liddell').and.include('Sign out every session of alice');
      await postForm(admin, '/admin', '/admin/users/nobody/sign-out', {}, 404);
      await postForm(admin, '/admin', '/admin/users/alice/sign-out', {}, 303);
      expect((await admin.get('/admin')).text).to.include(
        'Alice Liddell has been signed out of every device.',
      );
      await alice.get('/').expect(302);
      expect((await alice.get('/signin')).text).to.include(
        'An administrator signed you out of every device.',
      );
    });
  });

  describe('user-agent parser', () => {
    const cases: [string, string, boolean][] = [
      [LAPTOP, 'Chrome 126 on macOS', false],
      [PHONE, 'Safari 17 on iOS', true],
      [
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.67',
        'Edge 125 on Windows',
        false,
      ],
      [
        'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
        'Firefox 127 on Linux',
        false,
      ],
      [
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36',
        'Chrome 126 on Android',
        true,
      ],
      [
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
        'Chrome 126 on iOS',
        true,
      ],
      ['curl/8.5.0', 'Unknown browser on Unknown OS', false],
      ['', 'Unknown browser on Unknown OS', false],
    ];
    for (const [ua, label, mobile] of cases) {
      it(`reads ${label}`, () => {
        expect(parseUserAgent(ua)).to.include({ label, mobile });
      });
    }

    it('never throws and stays short, whatever the header', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 2000 }), (ua) => {
          const device = parseUserAgent(ua);
          return device.label.length < 80 && device.label === `${device.browser} on ${device.os}`;
        }),
      );
      const hostile = `Mozilla/5.0 ${'Version/1 '.repeat(10_000)}`;
      const started = process.hrtime.bigint();
      parseUserAgent(hostile);
      expect(Number(process.hrtime.bigint() - started) / 1e6).to.be.below(50);
    });
  });
});
