// From the adversarial review of the fast path (issue 11 and 13): each case failed before its fix.
// revoke(userId, handle) races a regenerate of that session: the regenerate lands first, the revoke answers
// false ("not live"), and the device stays signed in under a new handle.
import { expect } from 'chai';
import { closeClients, Gate, makeApp } from '../support/app.js';
import { captured, signedInAs } from '../support/replay.js';

describe('review (issue 11): per-device revoke vs regenerate', () => {
  afterEach(closeClients);
  it('invariant 1: a device that regenerates between list() and revoke() is still revoked by the listed id', async () => {
    const t = makeApp({ registry: true });
    const thief = t.agent();
    await thief.post('/login?user=alice').expect(200);
    const [entry] = await t.sessions.list('alice');
    // The thief's client regenerates (any app route that calls ctx.session.regenerate()).
    const res = await thief.post('/regenerate').expect(200);
    const ended = await t.sessions.revoke('alice', entry!.id);
    const still = await signedInAs(t, captured(res)!);
    console.log('      revoke returned', ended, '; thief still signed in as', still);
    expect(
      still === null || ended === true,
      'the revoke reported "not live" while the device stays signed in',
    ).to.equal(true);
  });
  it('in flight: a regenerate whose request started before revoke() completes after it', async () => {
    const t = makeApp({ registry: true });
    const thief = t.agent();
    await thief.post('/login?user=alice').expect(200);
    const [entry] = await t.sessions.list('alice');
    const gate = new Gate();
    t.gates.set('g', gate);
    const pending = thief.post('/hold?gate=g&then=regenerate').then((r) => r);
    await gate.arrived;
    expect(await t.sessions.revoke('alice', entry!.id)).to.equal(true);
    gate.release();
    const res = await pending;
    const c = captured(res);
    expect(c ? await signedInAs(t, c) : null).to.equal(null);
  });
});
