import { expect } from 'chai';
import { closeClients, cookieValue, makeApp } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';

describe('login, logout and the cookie', () => {
  afterEach(closeClients);

  it('signs in under a new sid, carries anonymous data over and destroys the anonymous key', async () => {
    const t = makeApp();
    const agent = t.agent();
    const first = await agent.post('/set?cart=3').expect(200);
    const anonymous = cookieValue(first)!;
    expect(anonymous).to.match(/^[0-9a-z]{8}[A-Za-z0-9_-]{22}$/);
    expect(await allKeys(t.redis, '*')).to.have.length(1);

    const login = await agent.post('/login?user=alice').expect(200);
    expect(login.body.userId).to.equal('alice');
    expect(login.body.data).to.include({ cart: '3' });
    const signedIn = cookieValue(login)!;
    expect(signedIn).to.not.equal(anonymous);
    expect(signedIn.endsWith(anonymous)).to.equal(false);

    const keys = await allKeys(t.redis, '*');
    expect(keys.some((k) => k.startsWith('sess:a:'))).to.equal(false, 'the anonymous key is destroyed');
    expect(keys.filter((k) => k.startsWith('sess:{')).sort()).to.have.length(2); // epoch + session

    const me = await agent.get('/whoami').expect(200);
    expect(me.body).to.deep.include({ userId: 'alice', data: { cart: '3' } });
  });

  it('logs out: the key is gone and the cookie is cleared', async () => {
    const t = makeApp();
    const agent = t.agent();
    await agent.post('/login?user=bob').expect(200);
    const out = await agent.post('/logout').expect(200);
    expect(out.body.userId).to.equal(null);
    expect(cookieValue(out)).to.equal('');
    const sessionKeys = (await allKeys(t.redis, 'sess:{*')).filter((k) => !k.endsWith(':e'));
    expect(sessionKeys).to.deep.equal([]);
    expect((await agent.get('/whoami')).body.userId).to.equal(null);
  });
});
