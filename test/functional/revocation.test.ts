import { expect } from 'chai';
import { closeClients, cookieValue, Gate, makeApp, type TestApp } from '../support/app.js';
import { allKeys, watchCommands } from '../support/redis-view.js';

/**
 * Session keys still reachable: those under their user's current epoch. Keys of an earlier epoch
 * may linger until their TTL, but no cookie can reach them (that is the mechanism).
 */
async function liveSessionKeys(t: TestApp): Promise<string[]> {
  const keys = (await allKeys(t.redis, 'sess:{*}:*:*')).filter((k) => !/:x:/.test(k));
  const live: string[] = [];
  for (const key of keys) {
    const [, tag, epoch] = /^sess:\{([^}]+)\}:([^:]+):/.exec(key)!;
    const current = await t.redis.get(`sess:{${tag}}:e`);
    if (current?.slice(0, 22) === epoch) live.push(key);
  }
  return live;
}

/** Starts a request that loads the session and waits at a gate; returns the pending response. */
async function holdRequest(t: TestApp, agent: ReturnType<TestApp['agent']>, then: string, extra = '') {
  const gate = new Gate();
  const name = `g${t.gates.size}`;
  t.gates.set(name, gate);
  const response = agent.post(`/hold?gate=${name}&then=${then}${extra}`).then((r) => r);
  await gate.arrived;
  return { gate, response };
}

describe('revocation: rotate, logout and logoutOthers (invariants 1, 2 and 6)', () => {
  afterEach(closeClients);

  it('rotate signs out every session of the user at once, on every app instance, and says whether it had any', async () => {
    const one = makeApp();
    const two = makeApp(); // a second app instance on its own client
    const laptop = one.agent();
    const phone = two.agent();
    await laptop.post('/login?user=alice').expect(200);
    await phone.post('/login?user=alice').expect(200);
    const bob = one.agent();
    await bob.post('/login?user=bob').expect(200);

    expect(await one.sessions.rotate('alice')).to.equal(true);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null);
    expect((await phone.get('/whoami')).body.userId).to.equal(null);
    expect((await bob.get('/whoami')).body.userId).to.equal('bob', 'other users are untouched');
    // Again: no epoch is left, but the first rotation still stands while its sessions could be
    // presented, which is what a retry after a waitForReplicas lag needs to hear.
    expect(await one.sessions.rotate('alice')).to.equal(true, 'the earlier rotation still stands');
    expect(await one.sessions.rotate('nobody')).to.equal(false);
  });

  it('rotate costs one script call whatever the number of sessions', async () => {
    const t = makeApp();
    for (let i = 0; i < 25; i++) await t.agent().post('/login?user=carol').expect(200);
    const monitor = await watchCommands(t.redis);
    await t.sessions.rotate('carol');
    const commands = (await monitor.stop()).map((c) => c.name);
    expect(commands.filter((c) => c === 'evalsha' || c === 'eval')).to.have.length(1);
    expect(commands.filter((c) => c === 'scan' || c === 'keys')).to.have.length(0);
  });

  for (const then of ['set', 'touch', 'renew', 'regenerate'] as const) {
    it(`a request that loaded the session before rotate cannot write it back (${then})`, async () => {
      const options =
        then === 'touch' ? { rolling: true } : then === 'renew' ? { renew: true, maxAge: 60_000 } : {};
      const t = makeApp(options);
      const agent = t.agent();
      await agent.post('/login?user=dave').expect(200);
      await agent.post('/set?note=before').expect(200);
      if (then === 'renew') {
        // Age the key below half its lifetime so koa-session decides to renew.
        for (const key of await liveSessionKeys(t)) await t.redis.pexpire(key, 20_000);
      }
      const before = await liveSessionKeys(t);
      expect(before).to.have.length(1);

      const { gate, response } = await holdRequest(
        t,
        agent,
        then === 'set' || then === 'regenerate' ? then : 'none',
      );
      expect(await t.sessions.rotate('dave')).to.equal(true);
      // The user signs in again elsewhere, so a fresh epoch exists for a careless write to land in.
      const newDevice = t.agent();
      await newDevice.post('/login?user=dave').expect(200);
      const fresh = await liveSessionKeys(t);
      gate.release();
      const res = await response;
      expect(res.status).to.equal(200);

      expect((await agent.get('/whoami')).body.userId).to.equal(null, 'the old cookie reaches nothing');
      expect(await liveSessionKeys(t)).to.deep.equal(fresh, 'only the new device is signed in');
      expect((await newDevice.get('/whoami')).body.data).to.not.have.property('late');
    });
  }

  it('a request in flight cannot undo a logout from another request', async () => {
    const t = makeApp();
    const agent = t.agent();
    const login = await agent.post('/login?user=erin').expect(200);
    const cookie = login.headers['set-cookie'] as unknown as string[];
    const { gate, response } = await holdRequest(t, agent, 'set');
    // Another tab logs out with the same cookie.
    const other = t.agent();
    await other
      .post('/logout')
      .set('Cookie', cookie.map((c) => c.split(';')[0]).join('; '))
      .expect(200);
    gate.release();
    await response;
    expect(await liveSessionKeys(t)).to.deep.equal([]);
    expect((await agent.get('/whoami')).body.userId).to.equal(null);
  });

  it('logoutOthers keeps only this session, under a new sid, and kills the old sid too', async () => {
    const t = makeApp();
    const laptop = t.agent();
    const phone = t.agent();
    const first = await laptop.post('/login?user=frank').expect(200);
    await phone.post('/login?user=frank').expect(200);
    await laptop.post('/set?kept=yes').expect(200);
    const oldCookie = cookieValue(first)!;

    const res = await laptop.post('/logout-others').expect(200);
    expect(res.body.kept).to.equal(true);
    const newCookie = cookieValue(res)!;
    expect(newCookie).to.not.equal(oldCookie);
    expect(newCookie.split('.')[2]!.slice(0, 8)).to.equal(
      oldCookie.split('.')[2]!.slice(0, 8),
      'login time kept',
    );

    expect((await laptop.get('/whoami')).body).to.deep.include({ userId: 'frank', data: { kept: 'yes' } });
    const phoneView = await phone.get('/whoami');
    expect(phoneView.body).to.deep.include({ userId: null, revoked: 'signed-out-elsewhere' });
    expect(await liveSessionKeys(t)).to.have.length(1);
  });

  it('logoutOthers records the reason the app gives, for the other devices to show', async () => {
    const t = makeApp();
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=fred').expect(200);
    await phone.post('/login?user=fred').expect(200);
    await laptop.post('/logout-others?reason=password-changed').expect(200);
    expect((await phone.get('/whoami')).body).to.deep.include({ userId: null, revoked: 'password-changed' });
    expect((await laptop.get('/whoami')).body.userId).to.equal('fred');
    const bad = await laptop.post('/logout-others?reason=%0Anewline').expect(500);
    expect(bad.body.message).to.match(/reason must be/);
  });

  it('a request in flight cannot undo logoutOthers', async () => {
    const t = makeApp();
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=gina').expect(200);
    await phone.post('/login?user=gina').expect(200);
    const { gate, response } = await holdRequest(t, phone, 'set');
    await laptop.post('/logout-others').expect(200);
    gate.release();
    await response;
    expect((await phone.get('/whoami')).body.userId).to.equal(null);
    expect((await laptop.get('/whoami')).body.userId).to.equal('gina');
    expect(await liveSessionKeys(t)).to.have.length(1);
  });

  it('logoutOthers from a session that was revoked meanwhile reports false and signs it out', async () => {
    const t = makeApp();
    const agent = t.agent();
    await agent.post('/login?user=hank').expect(200);
    const { gate, response } = await holdRequest(t, agent, 'logout-others');
    await t.sessions.rotate('hank');
    gate.release();
    const res = await response;
    expect(res.body.kept).to.equal(false);
    expect(await liveSessionKeys(t)).to.deep.equal([]);
  });

  it('a login that started before a rotation still lands in a fresh epoch, not the revoked one', async () => {
    const t = makeApp();
    const old = t.agent();
    await old.post('/login?user=ivy').expect(200);
    const fresh = t.agent();
    const { gate, response } = await holdRequest(t, fresh, 'login', '&user=ivy');
    await t.sessions.rotate('ivy');
    gate.release();
    const res = await response;
    expect(res.body.userId).to.equal('ivy');
    expect((await fresh.get('/whoami')).body.userId).to.equal('ivy');
    expect((await old.get('/whoami')).body.userId).to.equal(null, 'the old session stays revoked');
  });

  it('a regenerate that completes after a revoke of that one session does not continue it', async () => {
    const t = makeApp({ registry: true });
    const agent = t.agent();
    await agent.post('/login?user=rex').expect(200);
    await agent.post('/set?secret=rexs').expect(200);
    const [mine] = await t.sessions.list('rex');
    const { gate, response } = await holdRequest(t, agent, 'regenerate');
    expect(await t.sessions.revoke('rex', mine!.id)).to.equal(true);
    gate.release();
    await response;
    expect(await liveSessionKeys(t)).to.deep.equal([]);
    expect(await allKeys(t.redis, 'sess:a:*')).to.deep.equal([], 'no anonymous copy of the revoked data');
    expect((await agent.get('/whoami')).body).to.deep.include({ userId: null, data: {} });
  });

  it('regenerate of a signed-in session keeps the user and destroys the old key', async () => {
    const t = makeApp();
    const agent = t.agent();
    const login = await agent.post('/login?user=jack').expect(200);
    const res = await agent.post('/regenerate').expect(200);
    expect(cookieValue(res)).to.not.equal(cookieValue(login));
    expect((await agent.get('/whoami')).body.userId).to.equal('jack');
    expect(await liveSessionKeys(t)).to.have.length(1);
  });

  it("login as another user while signed in never carries the first user's data", async () => {
    const t = makeApp();
    const agent = t.agent();
    await agent.post('/login?user=kim').expect(200);
    await agent.post('/set?secret=kims').expect(200);
    const res = await agent.post('/login?user=lee').expect(200);
    expect(res.body.data).to.not.have.property('secret');
    expect((await agent.get('/whoami')).body).to.deep.include({ userId: 'lee', data: {} });
    expect(await liveSessionKeys(t)).to.have.length(1, "kim's session was destroyed");
  });
});
