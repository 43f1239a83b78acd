// The functional suite's revocation tests on an Express app: rotate, logout and logoutOthers (invariants 1, 2 and 6).
import { expect } from 'chai';
import { allKeys, watchCommands } from '../support/redis-view.js';
import {
  closeClients,
  cookieValue,
  holdRequest,
  liveSessionKeys,
  makeExpressApp,
  signedCookie,
} from './support.js';

describe('express: rotate, logout and logoutOthers (invariants 1, 2 and 6)', () => {
  afterEach(closeClients);

  it('rotate signs out every session of the user at once, on every app instance, and says whether it had any', async () => {
    const one = makeExpressApp();
    const two = makeExpressApp(); // a second app instance on its own client
    const laptop = one.agent();
    const phone = two.agent();
    await laptop.post('/login?user=alice').expect(200);
    await phone.post('/login?user=alice').expect(200);
    const bob = one.agent();
    await bob.post('/login?user=bob').expect(200);
    expect((await phone.get('/whoami')).body.userId).to.equal('alice');

    expect(await one.sessions.rotate('alice')).to.equal(true);
    expect((await laptop.get('/whoami')).body).to.deep.include({
      userId: null,
      revoked: 'signed-out-everywhere',
    });
    expect((await phone.get('/whoami')).body.userId).to.equal(null);
    expect((await bob.get('/whoami')).body.userId).to.equal('bob', 'other users are untouched');
    expect(await one.sessions.rotate('nobody')).to.equal(false);
  });

  it('rotate costs one script call whatever the number of sessions', async () => {
    const t = makeExpressApp();
    for (let i = 0; i < 25; i++) await t.agent().post('/login?user=carol').expect(200);
    const monitor = await watchCommands(t.redis);
    await t.sessions.rotate('carol');
    const commands = (await monitor.stop()).map((c) => c.name);
    expect(commands.filter((c) => c === 'evalsha' || c === 'eval')).to.have.length(1);
    expect(commands.filter((c) => c === 'scan' || c === 'keys')).to.have.length(0);
  });

  for (const then of ['set', 'save', 'touch', 'rolling', 'resave', 'regenerate'] as const) {
    it(`a request that loaded the session before rotate cannot write it back (${then})`, async () => {
      const options =
        then === 'rolling' ? { rolling: true } : then === 'resave' ? { resave: true } : { maxAge: 600_000 };
      const t = makeExpressApp(options);
      const agent = t.agent();
      await agent.post('/login?user=dave').expect(200);
      await agent.post('/set?note=before').expect(200);
      if (then === 'touch' || then === 'rolling' || then === 'resave') {
        // Age the stored expiry, so the request's touch is due and really writes.
        for (const key of await liveSessionKeys(t)) {
          const value = (await t.redis.get(key))!;
          const soon = (Date.now() + 300_000).toString(36).padStart(9, '0');
          await t.redis.set(key, soon + value.slice(9), 'PX', 300_000);
        }
      }
      expect(await liveSessionKeys(t)).to.have.length(1);
      const action = then === 'set' || then === 'save' || then === 'regenerate' ? then : 'none';
      const { gate, response } = await holdRequest(t, agent, action);
      expect(await t.sessions.rotate('dave')).to.equal(true);
      // The user signs in again elsewhere, so a fresh epoch exists for a careless write to land in.
      const newDevice = t.agent();
      await newDevice.post('/login?user=dave').expect(200);
      const fresh = await liveSessionKeys(t);
      gate.release();
      const res = await response;
      expect(res.status).to.be.lessThan(500);

      expect((await agent.get('/whoami')).body.userId).to.equal(null, 'the old cookie reaches nothing');
      expect(await liveSessionKeys(t)).to.deep.equal(fresh, 'only the new device is signed in');
      expect((await newDevice.get('/whoami')).body.data).to.not.have.property('late');
    });
  }

  it('a request in flight cannot undo a logout from another request', async () => {
    const t = makeExpressApp();
    const agent = t.agent();
    const login = await agent.post('/login?user=erin').expect(200);
    const { gate, response } = await holdRequest(t, agent, 'set');
    const other = await t
      .agent()
      .post('/logout')
      .set('Cookie', signedCookie(cookieValue(login)!))
      .expect(200);
    expect(other.body.userId).to.equal(null);
    gate.release();
    await response;
    expect(await liveSessionKeys(t)).to.deep.equal([]);
    expect((await agent.get('/whoami')).body.userId).to.equal(null);
  });

  it('logoutOthers keeps only this session, under a new sid, and kills the old sid too', async () => {
    const t = makeExpressApp();
    const laptop = t.agent();
    const phone = t.agent();
    const first = await laptop.post('/login?user=frank').expect(200);
    await phone.post('/login?user=frank').expect(200);
    await laptop.post('/set?kept=yes').expect(200);
    const oldCookie = cookieValue(first)!;

    const res = await laptop.post('/logout-others').expect(200);
    expect(res.body.kept).to.equal(true);
    const newCookie = cookieValue(res)!;
    expect(newCookie).to.be.a('string').and.not.equal(oldCookie);
    expect(newCookie.split('.')[2]!.slice(0, 8)).to.equal(oldCookie.split('.')[2]!.slice(0, 8), 'login time');

    expect((await laptop.get('/whoami')).body).to.deep.include({ userId: 'frank', data: { kept: 'yes' } });
    const phoneView = await phone.get('/whoami');
    expect(phoneView.body).to.deep.include({ userId: null, revoked: 'signed-out-elsewhere' });
    const replayed = await t.agent().get('/whoami').set('Cookie', signedCookie(oldCookie));
    expect(replayed.body.userId).to.equal(null, 'the old sid of this very device is dead');
    expect(await liveSessionKeys(t)).to.have.length(1);
  });

  it('logoutOthers records the reason the app gives, for the other devices to show', async () => {
    const t = makeExpressApp();
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
    const t = makeExpressApp();
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=gina').expect(200);
    await phone.post('/login?user=gina').expect(200);
    const { gate, response } = await holdRequest(t, phone, 'save');
    await laptop.post('/logout-others').expect(200);
    gate.release();
    await response;
    expect((await phone.get('/whoami')).body.userId).to.equal(null);
    expect((await laptop.get('/whoami')).body.userId).to.equal('gina');
    expect(await liveSessionKeys(t)).to.have.length(1);
  });

  it('logoutOthers from a session that was revoked meanwhile reports false and signs it out', async () => {
    const t = makeExpressApp();
    const agent = t.agent();
    await agent.post('/login?user=hank').expect(200);
    const { gate, response } = await holdRequest(t, agent, 'logout-others');
    await t.sessions.rotate('hank');
    gate.release();
    const res = await response;
    expect(res.body).to.deep.include({ kept: false, userId: null });
    expect(await liveSessionKeys(t)).to.deep.equal([]);
  });

  it('a login that started before a rotation lands in a fresh epoch, and carries none of the revoked data', async () => {
    const t = makeExpressApp();
    const old = t.agent();
    await old.post('/login?user=ivy').expect(200);
    await old.post('/set?secret=revoked-secret').expect(200);
    const { gate, response } = await holdRequest(t, old, 'login', '&user=ivy');
    await t.sessions.rotate('ivy');
    gate.release();
    const res = await response;
    expect(res.body.userId).to.equal('ivy');
    expect(JSON.stringify(res.body)).to.not.include('revoked-secret');
    expect((await old.get('/whoami')).body).to.deep.include({ userId: 'ivy', data: {} });
    expect(await liveSessionKeys(t)).to.have.length(1);
  });

  it('a regenerate that completes after a revoke of that one session does not continue it', async () => {
    const t = makeExpressApp({ registry: true });
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
    expect((await agent.get('/whoami')).body.userId).to.equal(null);
  });

  it('regenerate of a signed-in session keeps the user, drops the data (express-session), and replaces the key atomically', async () => {
    const t = makeExpressApp();
    const agent = t.agent();
    const login = await agent.post('/login?user=jack').expect(200);
    await agent.post('/set?x=1').expect(200);
    const monitor = await watchCommands(t.redis);
    const res = await agent.post('/regenerate').expect(200);
    const commands = (await monitor.stop())
      .filter((c) => c.source !== 'lua' && c.name !== 'cluster')
      .map((c) => (c.name === 'eval' ? 'evalsha' : c.name));
    expect(commands, 'one read, then one rekey script: no DEL before the create').to.deep.equal([
      'mget',
      'evalsha',
    ]);
    expect(cookieValue(res)).to.be.a('string').and.not.equal(cookieValue(login));
    expect((await agent.get('/whoami')).body).to.deep.include({ userId: 'jack', data: {} });
    expect(await liveSessionKeys(t)).to.have.length(1);
    const old = await t
      .agent()
      .get('/whoami')
      .set('Cookie', signedCookie(cookieValue(login)!));
    expect(old.body.userId).to.equal(null);
  });

  it("login as another user while signed in never carries the first user's data", async () => {
    const t = makeExpressApp();
    const agent = t.agent();
    await agent.post('/login?user=kim').expect(200);
    await agent.post('/set?secret=kims').expect(200);
    const res = await agent.post('/login?user=lee').expect(200);
    expect(res.body.data).to.not.have.property('secret');
    expect((await agent.get('/whoami')).body).to.deep.include({ userId: 'lee', data: {} });
    expect(await liveSessionKeys(t)).to.have.length(1, "kim's session was destroyed");
  });

  it('login issues a fresh sid, destroys the anonymous one, and carries its data over', async () => {
    const t = makeExpressApp();
    const agent = t.agent();
    const anonymous = await agent.post('/set?cart=3').expect(200);
    const anonymousValue = cookieValue(anonymous)!;
    const res = await agent.post('/login?user=mo').expect(200);
    expect(res.body).to.deep.include({ userId: 'mo', data: { cart: '3' } });
    expect(cookieValue(res)!.endsWith(anonymousValue)).to.equal(false);
    expect(await allKeys(t.redis, 'sess:a:*')).to.deep.equal([]);
    const fixated = await t.agent().get('/whoami').set('Cookie', signedCookie(anonymousValue));
    expect(fixated.body).to.deep.include({ userId: null, data: {} });
  });
});
