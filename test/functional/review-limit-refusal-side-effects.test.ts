// From the adversarial review of the fast path (issue 11 and 13): each case failed before its fix.
// A login refused by maxSessions ("reject") should change nothing (docs/registry.md): but when the request
// holds another user's session, login() has already replaced ctx.session with {} before asking Redis, and the
// end-of-request save writes that empty object over the held session.
import { expect } from 'chai';
import { closeClients, makeApp } from '../support/app.js';

describe('review (issue 11): a refused login changes nothing (invariant 8)', () => {
  afterEach(closeClients);
  it("alice's session keeps its data after a refused login as bob", async () => {
    const t = makeApp({ registry: true, maxSessions: 1, sessionLimitPolicy: 'reject' });
    await t.agent().post('/login?user=bob').expect(200); // bob is at his limit
    const alice = t.agent();
    await alice.post('/login?user=alice').expect(200);
    await alice.post('/set?cart=three-apples').expect(200);
    const refused = await alice.post('/login?user=bob');
    expect(refused.status).to.equal(409);
    const after = await alice.get('/whoami').expect(200);
    expect(after.body.userId).to.equal('alice');
    expect(after.body.data, "alice's data after the refused login").to.include({ cart: 'three-apples' });
  });
});
