// A save the store refuses (its session ended while the request ran) leaves the browser's cookie alone.
import { expect } from 'chai';
import { closeClients, holdRequest, makeApp, sessionCookieLines } from '../support/app.js';

describe('a refused save leaves the cookie the browser has', () => {
  afterEach(closeClients);

  it('another request of the same browser regenerated the session meanwhile: its new cookie stays, and the user stays signed in', async () => {
    const t = makeApp({ registry: true });
    const agent = t.agent();
    await agent.post('/login?user=ann').expect(200);
    const { gate, response: held } = await holdRequest(t, agent, 'set');
    // The second tab's regenerate moves the session to a new id; the held save then finds its key gone.
    await agent.post('/regenerate').expect(200);
    gate.release();
    const late = await held;
    expect(sessionCookieLines(late), 'the refused save sends no cookie').to.deep.equal([]);
    const after = await agent.get('/whoami').expect(200);
    expect(after.body.userId).to.equal('ann');
    expect(after.body.data.late, 'the refused change went nowhere').to.equal(undefined);
  });

  it('the session reached its absolute lifetime during the request: the next request is told why', async () => {
    const t = makeApp({ rolling: true, absoluteMaxAge: 1_000 });
    const agent = t.agent();
    const login = await agent.post('/login?user=abe').expect(200);
    const { gate, response: held } = await holdRequest(t, agent, 'set');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    gate.release();
    expect(sessionCookieLines(await held)).to.deep.equal([]);
    // The cookie itself ends with the lifetime (rounded up to the second), so a cookie jar may
    // already have dropped it: present it as a browser still holding it would.
    const cookie = sessionCookieLines(login)
      .map((line) => line.split(';')[0])
      .join('; ');
    const after = await t.agent().get('/whoami').set('Cookie', cookie).expect(200);
    expect(after.body.userId).to.equal(null);
    expect(after.body.revoked).to.equal('lifetime-exceeded');
  });

  it('the user was rotated out during the request: the next request is told why, and the data went nowhere', async () => {
    const t = makeApp({ registry: true });
    const agent = t.agent();
    await agent.post('/login?user=amy').expect(200);
    const { gate, response: held } = await holdRequest(t, agent, 'set');
    await t.sessions.rotate('amy', { reason: 'password-changed' });
    gate.release();
    // The held save may land on the orphaned key (a covered SET … XX, by design): no read reaches it.
    await held;
    const after = await agent.get('/whoami').expect(200);
    expect(after.body.userId).to.equal(null);
    expect(after.body.revoked).to.equal('password-changed');
    expect(JSON.stringify(after.body)).to.not.include('written after the revocation');
  });
});
