import { expect } from 'chai';
import { closeClients, makeApp } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';

const tag = (id: string) => Buffer.from(id).toString('base64url');

describe('fail closed when the epoch key is lost (invariant 3)', () => {
  afterEach(closeClients);

  it('a deleted epoch key invalidates every session of the user, and a new login does not revive them', async () => {
    const t = makeApp();
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post('/login?user=mia').expect(200);
    await phone.post('/login?user=mia').expect(200);
    await laptop.post('/set?cart=1').expect(200);
    const oldEpoch = (await t.redis.get(`sess:{${tag('mia')}}:e`))!;

    // As if evicted or flushed: the session keys themselves survive.
    await t.redis.del(`sess:{${tag('mia')}}:e`);
    expect(await allKeys(t.redis, `sess:{${tag('mia')}}:${oldEpoch}:*`)).to.have.length(2);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null);
    expect((await phone.get('/whoami')).body.userId).to.equal(null);

    const again = t.agent();
    await again.post('/login?user=mia').expect(200);
    const newEpoch = (await t.redis.get(`sess:{${tag('mia')}}:e`))!;
    expect(newEpoch).to.not.equal(oldEpoch);
    expect(newEpoch).to.match(/^[A-Za-z0-9_-]{22}$/);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null, 'old sessions stay dead');
    expect((await phone.get('/whoami')).body.userId).to.equal(null);
    expect((await again.get('/whoami')).body.userId).to.equal('mia');
  });

  it('a late write from a session whose epoch key vanished does not recreate the epoch', async () => {
    const t = makeApp({ rolling: true });
    const agent = t.agent();
    await agent.post('/login?user=ned').expect(200);
    await t.redis.del(`sess:{${tag('ned')}}:e`);
    await agent.post('/set?x=1').expect(200);
    expect(await t.redis.exists(`sess:{${tag('ned')}}:e`)).to.equal(0);
  });

  it('epochs are 128-bit random values, never reused across 1,000 rotations', async () => {
    const t = makeApp();
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      await t.sessions.login(fakeContext(t), 'olga');
      seen.add((await t.redis.get(`sess:{${tag('olga')}}:e`))!);
      await t.sessions.rotate('olga');
    }
    expect(seen.size).to.equal(1_000);
  });
});

/** A bare context for login outside HTTP: enough for koa-session's regenerate. */
function fakeContext(t: ReturnType<typeof makeApp>) {
  const ctx = t.app.createContext(
    { headers: {}, socket: {}, url: '/', method: 'POST' } as never,
    { getHeader() {}, setHeader() {}, removeHeader() {}, hasHeader: () => false } as never,
  );
  return ctx;
}
