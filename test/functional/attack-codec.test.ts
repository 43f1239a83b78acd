// Attack on encryption at rest combined with the horizon SET and the implied maxAge.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { aesGcmCodec } from '../../lib/index.js';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';
import { captured, replay } from '../support/replay.js';

const HOUR = 3_600_000;
const tagOf = (user: string) => Buffer.from(user).toString('base64url');

async function sessionKeys(t: TestApp, user: string): Promise<string[]> {
  return (await allKeys(t.redis, `sess:{${tagOf(user)}}:*:*`)).filter((k) => !/:[xml]:/.test(k));
}

describe('attack: aesGcmCodec with horizon writes and the implied maxAge', () => {
  afterEach(closeClients);

  it('probe: a ciphertext copied between two live sessions (same user, other user) never decrypts; covered writes, regenerate and logoutOthers keep the data readable', async () => {
    const t = makeApp({
      maxAge: HOUR,
      registry: true,
      rolling: true,
      codec: aesGcmCodec({ keys: [randomBytes(32)] }),
    });
    const a = t.agent();
    const b = t.agent();
    const m = t.agent();
    await a.post('/login?user=alice').expect(200);
    await a.post('/set?secret=a').expect(200);
    await a.post('/set?secret=a2').expect(200); // covered: native SET, re-encrypted
    await b.post('/login?user=alice').expect(200);
    await b.post('/set?secret=b').expect(200);
    await m.post('/login?user=mallory').expect(200);
    await m.post('/set?secret=m').expect(200);
    expect((await a.get('/whoami')).body.data).to.deep.include({ secret: 'a2' });
    const [ka, kb] = await sessionKeys(t, 'alice');
    const [km] = await sessionKeys(t, 'mallory');
    const va = (await t.redis.get(ka!))!;
    const vb = (await t.redis.get(kb!))!;
    // Mallory's key gets Alice's ciphertext (header and expiry kept as mallory's).
    await t.redis.set(km!, (await t.redis.get(km!))!.slice(0, 29) + va.slice(29), 'KEEPTTL');
    const mallory = (await m.get('/whoami')).body;
    expect(mallory.data?.secret).to.not.equal('a2');
    expect(mallory.userId).to.not.equal('alice');
    // Alice's two sessions swap ciphertexts.
    await t.redis.set(ka!, va.slice(0, 29) + vb.slice(29), 'KEEPTTL');
    // (allKeys' order is arbitrary: whichever key got the other's ciphertext must not read it.)
    const secrets = [(await a.get('/whoami')).body.data?.secret, (await b.get('/whoami')).body.data?.secret];
    expect(
      secrets.filter((s) => s === 'a2' || s === 'b'),
      'only the untouched session reads its data',
    ).to.have.length(1);
    // regenerate and logoutOthers re-encrypt under the new handle.
    const c = t.agent();
    await c.post('/login?user=carl').expect(200);
    await c.post('/set?secret=c').expect(200);
    await c.post('/regenerate').expect(200);
    expect((await c.get('/whoami')).body.data).to.deep.include({ secret: 'c' });
    const kept = await c.post('/logout-others').expect(200);
    expect(kept.body.kept).to.equal(true);
    const res = await replay(t, captured(kept)!);
    expect(res.userId).to.equal('carl');
    expect(res.data).to.deep.include({ secret: 'c' });
  });
});
