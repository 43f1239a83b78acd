// Issue 11, case 8a: maxSessions with "reject" holds when a login lands inside a regenerate of a signed-in session.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, Gate, makeApp, type TestApp } from '../support/app.js';
import { captured, signedInAs } from '../support/replay.js';

const LIMIT = { registry: true, maxSessions: 2, sessionLimitPolicy: 'reject' as const };

/**
 * koa-session's regenerate() destroys the old key, asks genid for a new id, then saves under it.
 * The store is the object koa-session calls (sessions.store): wrapping its destroy, for requests
 * that name a gate, holds the regenerate exactly between its destroy and its create.
 */
function holdAfterDestroy(t: TestApp): void {
  const store = t.sessions.store;
  const destroy = store.destroy.bind(store);
  store.destroy = (async (key: string, options?: { ctx?: Context }) => {
    const result = await destroy(key, options);
    const name = options?.ctx?.query?.gate;
    const gate = name === undefined ? undefined : t.gates.get(String(name));
    if (gate) {
      t.gates.delete(String(name));
      await gate.pass();
    }
    return result;
  }) as typeof store.destroy;
}

describe('hardening (issue 11): the session limit holds on every path that creates a signed-in session', () => {
  afterEach(closeClients);

  it('session limit (SPEC section 5, maxSessions 2 "reject"): a login that lands between a regenerate\'s destroy and its create never leaves 3 live sessions', async () => {
    const t = makeApp(LIMIT);
    holdAfterDestroy(t);
    const login = async () => {
      const res = await t.agent().post('/login?user=alice').expect(200);
      return captured(res)!;
    };
    const laptop = await login();
    const phone = await login();
    expect(await t.sessions.list('alice')).to.have.length(2);
    await t.agent().post('/login?user=alice').expect(409); // the limit is in force

    const gate = new Gate();
    t.gates.set('g', gate);
    const regenerating = t
      .agent()
      .post('/regenerate?gate=g')
      .set('Cookie', laptop)
      .then((r) => r);
    const reached = await Promise.race([gate.arrived.then(() => true), regenerating.then(() => false)]);
    expect(
      reached,
      'koa-session called sessions.store.destroy in the regenerate: the window exists',
    ).to.equal(true);
    // A third device signs in while the laptop's regenerate is between its destroy and its create.
    const tablet = await t.agent().post('/login?user=alice');
    expect([200, 409]).to.include(tablet.status);
    gate.release();
    const regenerated = await regenerating;
    expect(regenerated.status).to.be.lessThan(500);

    const cookies = [
      captured(regenerated) ?? laptop,
      phone,
      ...(tablet.status === 200 ? [captured(tablet)!] : []),
    ];
    const live: string[] = [];
    for (const cookie of cookies) if ((await signedInAs(t, cookie)) === 'alice') live.push(cookie);
    expect(live.length, 'captured cookies still signed in as alice').to.be.at.most(2);
    expect(live, "the phone's session was not part of the race and stays live").to.include(phone);
    expect((await t.sessions.list('alice')).length, 'sessions.list(alice)').to.be.at.most(2);
  });
});
