import { expect } from 'chai';
import { closeClients, makeApp } from '../support/app.js';

describe('secure cookie defaults (SPEC section 4)', () => {
  afterEach(closeClients);

  it('uses a neutral name, HttpOnly, SameSite=Lax and a signature', async () => {
    const t = makeApp();
    const res = await t.agent().post('/login?user=ann').expect(200);
    const cookies = res.headers['set-cookie'] as unknown as string[];
    const session = cookies.find((c) => c.startsWith('sid='))!;
    expect(session).to.match(/; httponly/i);
    expect(session).to.match(/; samesite=lax/i);
    expect(session).to.not.match(/; secure/i, 'plain HTTP gets no Secure flag');
    expect(cookies.some((c) => c.startsWith('sid.sig='))).to.equal(true);
    expect(cookies.join(' ')).to.not.include('koa');
  });

  it('marks the cookie Secure over HTTPS, as the proxy reports it when app.proxy is set', async () => {
    const t = makeApp();
    t.app.proxy = true;
    const res = await t.agent().post('/login?user=bo').set('X-Forwarded-Proto', 'https').expect(200);
    const session = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('sid='))!;
    expect(session).to.match(/; secure/i);

    const untrusted = makeApp(); // app.proxy false: the header is not believed
    const res2 = await untrusted.agent().post('/login?user=bo').set('X-Forwarded-Proto', 'https').expect(200);
    expect(
      (res2.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('sid=')),
    ).to.not.match(/; secure/i);
  });

  it('keeps a readable companion cookie with the expiry in step with the session cookie', async () => {
    const t = makeApp({ companionCookie: 'sid_expires', maxAge: 60_000 });
    const agent = t.agent();
    const before = Date.now();
    const res = await agent.post('/login?user=cy').expect(200);
    const companion = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('sid_expires='),
    )!;
    expect(companion).to.not.match(/httponly/i);
    const expiresAt = Number(companion.split(';')[0]!.split('=')[1]);
    expect(expiresAt).to.be.within(before + 55_000, Date.now() + 60_000);

    const out = await agent.post('/logout').expect(200);
    const cleared = (out.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('sid_expires='),
    )!;
    expect(cleared).to.match(/^sid_expires=;/);
  });

  it('clears the companion when the presented session was revoked', async () => {
    const t = makeApp({ companionCookie: 'sid_expires' });
    const agent = t.agent();
    await agent.post('/login?user=dee').expect(200);
    await t.sessions.rotate('dee', { reason: 'password-changed' });
    const res = await agent.get('/whoami').expect(200);
    expect(res.body.revoked).to.equal('password-changed');
    const cleared = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('sid_expires='),
    )!;
    expect(cleared).to.match(/^sid_expires=;/);
  });
});
