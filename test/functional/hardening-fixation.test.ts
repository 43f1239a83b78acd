// Issue 11, cases 1 and 2 and the rotate-then-login decision: no write in a request brings back a session that request ended.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, cookieValue, Gate, makeApp, type TestApp } from '../support/app.js';
import { captured, replay, signedInAs } from '../support/replay.js';

type Handler = (ctx: Context, t: TestApp) => Promise<void> | void;

const FLASH = 'signed out';
const WITH_REGISTRY = { registry: true, rolling: true };

/** Routes that end the session and then write in the same request, the way apps really do. */
const routes: Record<string, Handler> = {
  'POST /logout-flash': async (ctx, t) => {
    await t.sessions.logout(ctx);
    ctx.session = { flash: FLASH };
  },
  'POST /null-flash': (ctx) => {
    void ctx.session;
    ctx.session = null;
    ctx.session = { flash: FLASH };
  },
  'POST /replace': (ctx) => {
    ctx.session = { replaced: 'yes' };
  },
  'POST /null-login': async (ctx, t) => {
    void ctx.session;
    ctx.session = null;
    ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user));
  },
};

/** Signs `user` in with a secret in the session; returns the captured cookie and its value. */
async function signIn(t: TestApp, user: string, secret: string) {
  const agent = t.agent();
  const login = await agent.post(`/login?user=${encodeURIComponent(user)}`).expect(200);
  expect(login.body.userId).to.equal(user);
  const set = await agent.post(`/set?secret=${secret}`).expect(200);
  expect(set.body.data).to.include({ secret });
  const cookie = captured(set) ?? captured(login);
  expect(cookie, 'the login answered with a session cookie').to.be.a('string');
  expect(await signedInAs(t, cookie!)).to.equal(user);
  return { agent, cookie: cookie!, value: (cookieValue(set) ?? cookieValue(login))! };
}

describe('hardening (issue 11): ending a session, then writing in the same request', () => {
  afterEach(closeClients);

  for (const [route, how, config, label] of [
    ['/logout-flash', 'await sessions.logout(ctx); ctx.session = { flash }', {}, ''],
    ['/null-flash', 'ctx.session = null; ctx.session = { flash }', {}, ''],
    // The registry and rolling take other write paths (device header, touch): same outcome.
    [
      '/logout-flash',
      'await sessions.logout(ctx); ctx.session = { flash }',
      WITH_REGISTRY,
      ' (registry, rolling)',
    ],
    ['/null-flash', 'ctx.session = null; ctx.session = { flash }', WITH_REGISTRY, ' (registry, rolling)'],
  ] as const) {
    it(`invariants 2 and 6: \`${how}\` puts the flash in a new anonymous session under a new cookie, and no cookie reaches the ended session${label}`, async () => {
      const t = makeApp(config, routes);
      const alice = await signIn(t, 'alice', 'alice-secret-1');

      const out = await t.agent().post(route).set('Cookie', alice.cookie).expect(200);
      // A stolen copy of the ended cookie reaches nothing.
      const stolen = await replay(t, alice.cookie);
      expect(stolen.userId, 'the ended cookie, replayed, is signed in again').to.equal(null);
      expect(JSON.stringify(stolen.body)).to.not.include('alice-secret-1');
      expect(out.body.userId, 'the response itself is signed out').to.equal(null);
      const flashCookie = captured(out);
      expect(flashCookie, 'the flash needs a cookie to live under').to.be.a('string');
      expect(cookieValue(out), 'the flash session must not reuse the ended session id').to.not.equal(
        alice.value,
      );

      // The new cookie reaches the flash, anonymously, and nothing of alice's session.
      const next = await replay(t, flashCookie!);
      expect(next.userId, 'the cookie issued after the logout signs in').to.equal(null);
      expect(next.data).to.deep.equal({ flash: FLASH });
      expect(JSON.stringify(next.body)).to.not.include('alice-secret-1');

      // Still nothing after the flash was read.
      expect(await signedInAs(t, flashCookie!)).to.equal(null);
      expect(await signedInAs(t, alice.cookie)).to.equal(null);
    });
  }

  it('invariant 6 (pinned): `ctx.session = { ...newObject }` without a null first keeps the user signed in, with the new data', async () => {
    const t = makeApp({}, routes);
    const alice = await signIn(t, 'alice', 'alice-secret-2');
    const res = await alice.agent.post('/replace').expect(200);
    expect(res.body.userId).to.equal('alice');
    const next = await alice.agent.get('/whoami').expect(200);
    expect(next.body.userId, 'identity lives in the key: assigning data does not sign out').to.equal('alice');
    expect(next.body.data).to.include({ replaced: 'yes' });
    expect(next.body.data, 'assignment replaces the data').to.not.have.property('secret');
  });

  for (const [user, config, label] of [
    ['bob', {}, ''],
    ['alice', {}, ''],
    ['bob', WITH_REGISTRY, ' (registry, rolling)'],
    ['alice', WITH_REGISTRY, ' (registry, rolling)'],
  ] as const) {
    it(`invariant 6: \`ctx.session = null\` then login(ctx, '${user}') ends the session alice presented${label}`, async () => {
      const t = makeApp(config, routes);
      const alice = await signIn(t, 'alice', 'alice-secret-3');

      const res = await t.agent().post(`/null-login?user=${user}`).set('Cookie', alice.cookie).expect(200);
      expect(res.body.userId).to.equal(user);
      const fresh = captured(res);
      expect(fresh, 'login issues a cookie').to.be.a('string');
      expect(cookieValue(res)).to.not.equal(alice.value);

      expect(await signedInAs(t, fresh!), `the new cookie is signed in as ${user}`).to.equal(user);
      expect(await signedInAs(t, alice.cookie), "alice's old cookie, replayed after the login").to.equal(
        null,
      );
      if (config === WITH_REGISTRY) {
        const left = await t.sessions.list('alice');
        expect(left, "alice's sessions in the registry after the login").to.have.length(
          user === 'alice' ? 1 : 0,
        );
      }
    });
  }

  it('invariant 2 (decided): a login of alice by a request that loaded her session before rotate("alice") succeeds but carries none of the revoked data', async () => {
    const t = makeApp();
    const alice = await signIn(t, 'alice', 'revoked-secret');
    const gate = new Gate();
    t.gates.set('g', gate);
    const held = t
      .agent()
      .post('/hold?gate=g&then=login&user=alice')
      .set('Cookie', alice.cookie)
      .then((r) => r);
    await gate.arrived;
    expect(await t.sessions.rotate('alice')).to.equal(true);
    gate.release();
    const res = await held;

    expect(res.status).to.equal(200);
    expect(res.body.userId, 'the login itself succeeds').to.equal('alice');
    expect(res.body.data ?? {}).to.not.have.property('secret');
    const fresh = captured(res);
    expect(fresh).to.be.a('string');
    const next = await replay(t, fresh!);
    expect(next.userId).to.equal('alice');
    expect(JSON.stringify(next.body), 'the new session carries data of the revoked one').to.not.include(
      'revoked-secret',
    );
    expect(await signedInAs(t, alice.cookie)).to.equal(null);
  });
});
