// The demo's "Remember me" and its recent-sign-in rule for the password change, over HTTP (no browser).
import { expect } from 'chai';
import supertest from 'supertest';
import { createDemoApp } from '../../demo/app.js';
import { newRedis } from '../support/app.js';
import { assertNoStackTrace, closeClients, csrfFrom, makeDemo, postForm, signIn } from './demo-fixtures.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

type Agent = ReturnType<typeof supertest.agent>;
type Response = Awaited<ReturnType<Agent['get']>>;

/** The Set-Cookie line of a cookie, or undefined when the response does not set it. */
function setCookie(res: Response, name: string): string | undefined {
  const lines = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
  return lines.find((line) => line.startsWith(`${name}=`));
}

/** When a Set-Cookie line makes the cookie end, or undefined for a browser-session cookie. */
function cookieEnd(line: string): number | undefined {
  if (/;\s*max-age=/i.test(line)) throw new Error(`unexpected Max-Age: ${line}`);
  const expires = /;\s*expires=([^;]+)/i.exec(line)?.[1];
  return expires === undefined ? undefined : Date.parse(expires);
}

/** Posts the sign-in form, with "Remember me" ticked or not. */
async function signInRemembering(agent: Agent, username: string, password: string, remember: boolean) {
  const page = await agent.get('/signin').expect(200);
  return agent
    .post('/signin')
    .type('form')
    .send({ _csrf: csrfFrom(page.text), username, password, ...(remember ? { remember: 'yes' } : {}) })
    .expect(303);
}

/** Resolves once the last sign-in or confirmation is older than `ms`. */
function staleAfter(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms + 100));
}

/** The id of this device's row in the device list. */
async function currentSessionId(agent: Agent): Promise<string> {
  const home = await agent.get('/').expect(200);
  return /<tr class="current" data-session-id="([^"]+)"/.exec(home.text)![1]!;
}

describe('demo: remember me and recent sign-in, over HTTP', () => {
  afterEach(closeClients);

  describe('remember me', () => {
    it('unticked: the session cookie has no Expires or Max-Age, and Redis ends it after the idle time', async () => {
      const demo = await makeDemo();
      const agent = supertest.agent(demo.app.callback());
      const res = await signInRemembering(agent, 'alice', 'wonderland', false);
      const sid = setCookie(res, 'sid');
      expect(sid, 'a session cookie is set').to.be.a('string');
      expect(cookieEnd(sid!)).to.equal(undefined);
      // The companion cookie ends with the browser too, and still says when the store ends it.
      const companion = setCookie(res, 'sid_expires')!;
      expect(cookieEnd(companion)).to.equal(undefined);
      const [session] = await demo.sessions.list('alice');
      expect(session!.expiresAt.getTime() - Date.now()).to.be.within(29 * MINUTE, 30 * MINUTE);
      expect(Number(/sid_expires=(\d+)/.exec(companion)![1])).to.equal(session!.expiresAt.getTime());
      const home = await agent.get('/').expect(200);
      expect(home.text)
        .to.include('or when you close the browser')
        .and.include('or when this browser closes');
    });

    it('ticked: the cookie and the session last 30 days', async () => {
      const demo = await makeDemo();
      const agent = supertest.agent(demo.app.callback());
      const res = await signInRemembering(agent, 'alice', 'wonderland', true);
      const ends = cookieEnd(setCookie(res, 'sid')!);
      expect(ends! - Date.now()).to.be.within(30 * DAY - MINUTE, 30 * DAY + 1000);
      const [session] = await demo.sessions.list('alice');
      expect(session!.expiresAt.getTime() - Date.now()).to.be.within(30 * DAY - MINUTE, 30 * DAY);
      const home = await agent.get('/').expect(200);
      expect(home.text).to.include('remembered on this device').and.not.include('close the browser');
      expect(home.text).to.match(/id="countdown"[^>]*>(29d 23|30d 00):\d\d:\d\d</);
    });

    it('uses the configured lifetime, says so on the form, and keeps the box ticked after a failed attempt', async () => {
      const demo = await makeDemo({ rememberMeMaxAge: 2 * 3_600_000 });
      const agent = supertest.agent(demo.app.callback());
      const page = await agent.get('/signin').expect(200);
      expect(page.text).to.include('Remember me for 2 hours').and.include('after\n    30 minutes without');
      expect(page.text).to.not.match(/name="remember"[^>]* checked/);
      const failed = await agent
        .post('/signin')
        .type('form')
        .send({ _csrf: csrfFrom(page.text), username: 'alice', password: 'nope', remember: 'yes' })
        .expect(401);
      expect(failed.text).to.match(/name="remember"[^>]* checked/);
      const res = await signInRemembering(agent, 'alice', 'wonderland', true);
      expect(cookieEnd(setCookie(res, 'sid')!)! - Date.now()).to.be.within(
        2 * 3_600_000 - MINUTE,
        2 * 3_600_000 + 1000,
      );
    });

    it('a password change keeps the lifetime the device signed in with', async () => {
      const demo = await makeDemo();
      const remembered = supertest.agent(demo.app.callback());
      const forgetful = supertest.agent(demo.app.callback());
      await signInRemembering(remembered, 'alice', 'wonderland', true);
      await signInRemembering(forgetful, 'bob', 'can-we-fix-it', false);
      const fields = (current: string) => ({ current, next: 'a-new-secret', confirm: 'a-new-secret' });
      const kept = await postForm(
        remembered,
        '/account/password',
        '/account/password',
        fields('wonderland'),
        303,
      );
      expect(cookieEnd(setCookie(kept, 'sid')!)! - Date.now()).to.be.within(
        30 * DAY - MINUTE,
        30 * DAY + 1000,
      );
      const stillSession = await postForm(
        forgetful,
        '/account/password',
        '/account/password',
        fields('can-we-fix-it'),
        303,
      );
      expect(cookieEnd(setCookie(stillSession, 'sid')!)).to.equal(undefined);
      await remembered.get('/').expect(200);
      await forgetful.get('/').expect(200);
    });
  });

  describe('recent sign-in for the password change', () => {
    const FRESH = 1500;

    it('a fresh sign-in gets the form at once', async () => {
      const demo = await makeDemo();
      const agent = supertest.agent(demo.app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      const page = await agent.get('/account/password').expect(200);
      expect(page.text).to.include('Current password').and.not.include('Confirm your password');
      expect(page.text).to.include('This page needs that within the last\n  10 minutes');
    });

    it('a stale one gets 403 and the password prompt instead; a posted change is not applied', async () => {
      const demo = await makeDemo({ freshForMs: FRESH });
      const laptop = supertest.agent(demo.app.callback());
      const phone = supertest.agent(demo.app.callback());
      await signIn(laptop, 'alice', 'wonderland', { expect: 303 });
      await signIn(phone, 'alice', 'wonderland', { expect: 303 });
      const form = await laptop.get('/account/password').expect(200);
      await staleAfter(FRESH);

      const prompt = await laptop.get('/account/password').expect(403);
      expect(prompt.text).to.include('Confirm your password').and.include('To change your password');
      expect(prompt.text).to.not.include('Current password');
      expect(prompt.text).to.include('name="next" value="/account/password"');
      assertNoStackTrace(prompt.text);

      const posted = await laptop
        .post('/account/password')
        .type('form')
        .send({
          _csrf: csrfFrom(form.text),
          current: 'wonderland',
          next: 'a-new-secret',
          confirm: 'a-new-secret',
        })
        .expect(403);
      expect(posted.text).to.include('Confirm your password').and.include('Nothing was changed');
      expect(await demo.accounts.verify('alice', 'wonderland')).to.include({ username: 'alice' });
      await phone.get('/').expect(200);
    });

    it('a forged post to the password change is refused before any prompt', async () => {
      const demo = await makeDemo({ freshForMs: FRESH });
      const agent = supertest.agent(demo.app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      await staleAfter(FRESH);
      const forged = await agent
        .post('/account/password')
        .type('form')
        .send({ _csrf: 'forged', current: 'wonderland', next: 'a-new-secret', confirm: 'a-new-secret' })
        .expect(403);
      expect(forged.text).to.include('This form has expired').and.not.include('Confirm your password');
    });

    it('confirming: a wrong password is refused, the right one makes the session fresh without a new sid', async () => {
      const demo = await makeDemo({ freshForMs: FRESH });
      const laptop = supertest.agent(demo.app.callback());
      const phone = supertest.agent(demo.app.callback());
      const signedIn = await signIn(laptop, 'alice', 'wonderland', { expect: 303 });
      await signIn(phone, 'alice', 'wonderland', { expect: 303 });
      const before = await currentSessionId(laptop);
      const sidValue = (res: Response) => /^sid=([^;]*)/.exec(setCookie(res, 'sid') ?? '')?.[1];
      await staleAfter(FRESH);

      const confirm = (password: string, status: number, next = '/account/password') =>
        postForm(laptop, '/', '/account/confirm', { password, next }, status);
      const wrong = await confirm('not-it', 401);
      expect(wrong.text).to.include('That password is not right.').and.include('Confirm your password');
      const empty = await confirm('', 400);
      expect(empty.text).to.include('Enter your password.');
      await laptop.get('/account/password').expect(403);

      const right = await confirm('wonderland', 303);
      expect(right.headers.location).to.equal('/account/password');
      // Same session, same sid: reauthenticate() is not a new login.
      expect(sidValue(right)).to.be.a('string').and.equal(sidValue(signedIn));
      const page = await laptop.get('/account/password').expect(200);
      expect(page.text).to.include('Password confirmed.').and.include('Current password');
      expect(await currentSessionId(laptop)).to.equal(before);

      // And the change itself goes through, signing the phone out as always.
      await postForm(
        laptop,
        '/account/password',
        '/account/password',
        { current: 'wonderland', next: 'a-new-secret', confirm: 'a-new-secret' },
        303,
      );
      expect((await laptop.get('/').expect(200)).text).to.include('Password changed.');
      await phone.get('/').expect(302);
      expect((await phone.get('/signin')).text).to.include('Your password was changed on another device');
    });

    it('confirming returns only to a page that asks for it', async () => {
      const demo = await makeDemo({ freshForMs: FRESH });
      const agent = supertest.agent(demo.app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      for (const next of ['https://evil.example/', '//evil.example', '/admin', '']) {
        const res = await postForm(agent, '/', '/account/confirm', { password: 'wonderland', next }, 303);
        expect(res.headers.location, next).to.equal('/account/password');
      }
    });

    it('confirming needs the CSRF token and a signed-in session', async () => {
      const demo = await makeDemo({ freshForMs: FRESH });
      const agent = supertest.agent(demo.app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      await staleAfter(FRESH);
      const forged = await agent
        .post('/account/confirm')
        .type('form')
        .send({ _csrf: 'forged', password: 'wonderland', next: '/account/password' })
        .expect(403);
      expect(forged.text).to.include('This form has expired');
      await agent.get('/account/password').expect(403);
      const stranger = await supertest(demo.app.callback())
        .post('/account/confirm')
        .type('form')
        .send({ password: 'wonderland' })
        .expect(303);
      expect(stranger.headers.location).to.equal('/signin');
    });

    it('wrong confirmations count as failed sign-ins: the throttle blocks both, with Retry-After', async () => {
      const demo = await makeDemo({ freshForMs: FRESH, failedSignInLimit: 2 });
      const agent = supertest.agent(demo.app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      await staleAfter(FRESH);
      await postForm(agent, '/', '/account/confirm', { password: 'guess-1' }, 401);
      await postForm(agent, '/', '/account/confirm', { password: 'guess-2' }, 401);
      const blocked = await postForm(agent, '/', '/account/confirm', { password: 'wonderland' }, 429);
      expect(blocked.text).to.include('Too many wrong passwords');
      expect(Number(blocked.headers['retry-after'])).to.be.within(1, 15 * 60);
      await agent.get('/account/password').expect(403);
      // The same counter as the sign-in form's, for this IP and account.
      await signIn(supertest.agent(demo.app.callback()), 'alice', 'wonderland', { expect: 429 });
    });

    it("the change form's current password is counted by the throttle too", async () => {
      const demo = await makeDemo({ failedSignInLimit: 2 });
      const agent = supertest.agent(demo.app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      const change = (current: string, status: number) =>
        postForm(
          agent,
          '/account/password',
          '/account/password',
          { current, next: 'x-new-secret', confirm: 'x-new-secret' },
          status,
        );
      await change('guess-1', 403);
      await change('guess-2', 403);
      const blocked = await change('wonderland', 429);
      expect(blocked.text).to.include('Too many wrong passwords');
      expect(await demo.accounts.verify('alice', 'wonderland')).to.include({ username: 'alice' });
    });

    it('a session revoked while its password was being checked is signed out, not made fresh', async () => {
      const demo = await makeDemo({ freshForMs: FRESH });
      const agent = supertest.agent(demo.app.callback());
      await signIn(agent, 'alice', 'wonderland', { expect: 303 });
      await staleAfter(FRESH);
      const { accounts, sessions } = demo;
      const verify = accounts.verify.bind(accounts);
      accounts.verify = async (username, password) => {
        const account = await verify(username, password);
        await sessions.rotate(username, { reason: 'admin-signed-out' });
        return account;
      };
      const res = await postForm(agent, '/', '/account/confirm', { password: 'wonderland' }, 303);
      expect(res.headers.location).to.equal('/signin');
      await agent.get('/').expect(302);
    });

    it('refuses a freshness window or a lifetime it cannot use, naming the option', () => {
      const redis = newRedis();
      expect(() => createDemoApp({ redis, freshForMs: 0 })).to.throw(RangeError, /freshForMs/);
      expect(() => createDemoApp({ redis, rememberMeMaxAge: 1.5 })).to.throw(RangeError, /rememberMeMaxAge/);
    });
  });
});
