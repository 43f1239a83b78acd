// Encryption at rest (issue 15 item 3) under express-session: the Express adapter honours the codec on every path.
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import supertest from 'supertest';
import { aesGcmCodec, type SessionCodec } from '../../lib/express/index.js';
import { newRedis } from '../support/app.js';
import { allKeys } from '../support/redis-view.js';
import {
  captured,
  closeClients,
  type ExpressTestApp,
  makeExpressApp,
  replay,
  signedCookie,
  signedInAs,
} from './support.js';

const SECRET_DATA = 'secret-pear-41aa';
const tag = (id: string) => Buffer.from(id).toString('base64url');

/** The user's signed-in session keys, orphans of older epochs included. */
async function sessionKeys(t: ExpressTestApp, user: string): Promise<string[]> {
  return (await allKeys(t.redis, `sess:{${tag(user)}}:*`)).filter((k) =>
    /:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{16}$/.test(k),
  );
}

async function sessionKey(t: ExpressTestApp, user: string): Promise<string> {
  const keys = await sessionKeys(t, user);
  expect(keys, `the session keys of ${user}`).to.have.length(1);
  return keys[0]!;
}

async function everyValue(t: ExpressTestApp): Promise<string> {
  const out: string[] = [];
  for (const key of await allKeys(t.redis, '*')) {
    const type = await t.redis.type(key);
    if (type === 'string') out.push((await t.redis.get(key))!);
    if (type === 'hash') out.push(JSON.stringify(await t.redis.hgetall(key)));
  }
  return out.join('\n');
}

const dataPart = (raw: string) => raw.slice(raw[9] === '{' ? 9 : 29);

describe('encryption at rest under express-session (issue 15)', () => {
  afterEach(closeClients);

  it('login, change, regenerate, logoutOthers and list with encrypted values; nothing readable in Redis', async () => {
    const t = makeExpressApp({ registry: true, codec: aesGcmCodec({ keys: [randomBytes(32)] }) });
    const laptop = t.agent();
    const phone = t.agent();
    await laptop.post(`/set?cart=${SECRET_DATA}`).expect(200);
    const login = await laptop.post('/login?user=ann').set('User-Agent', 'laptop').expect(200);
    expect(login.body).to.deep.include({ userId: 'ann', data: { cart: SECRET_DATA } });
    await phone.post('/login?user=ann').set('User-Agent', 'phone').expect(200);
    await laptop.post('/set?note=n1').set('User-Agent', 'laptop').expect(200);
    expect((await laptop.get('/whoami').expect(200)).body.data).to.deep.equal({
      cart: SECRET_DATA,
      note: 'n1',
    });
    const devices = (await laptop.get('/list?user=ann').expect(200)).body.list;
    expect(devices.map((d: { userAgent: string }) => d.userAgent).sort()).to.deep.equal(['laptop', 'phone']);
    await laptop.post('/regenerate').expect(200);
    expect((await laptop.get('/whoami').expect(200)).body.userId).to.equal('ann');
    expect((await laptop.post('/logout-others').expect(200)).body.kept).to.equal(true);
    expect((await phone.get('/whoami').expect(200)).body.userId).to.equal(null);
    const kept = await laptop.get('/whoami').expect(200);
    expect(kept.body).to.deep.include({ userId: 'ann' });
    const values = await everyValue(t);
    for (const clear of [SECRET_DATA, '"note"', '"cart"']) expect(values).not.to.include(clear);
    // The live session and the other device's orphan (under the rotated epoch, until its TTL).
    const keys = await sessionKeys(t, 'ann');
    expect(keys).to.have.length(2);
    for (const key of keys) expect(dataPart((await t.redis.get(key))!)).to.match(/^\{~g[A-Za-z0-9_-]+$/);
  });

  it('unchanged data is not rewritten on a touch; a changed or tampered value is handled without a 500', async () => {
    const t = makeExpressApp({ codec: aesGcmCodec({ keys: [randomBytes(32)] }), rolling: true });
    const agent = t.agent();
    const cookie = captured(await agent.post('/login?user=bo').expect(200))!;
    await agent.post('/set?cart=1').expect(200);
    const key = await sessionKey(t, 'bo');
    const written = (await t.redis.get(key))!;
    for (let i = 0; i < 3; i++) await agent.get('/whoami').expect(200);
    expect(await t.redis.get(key)).to.equal(written);
    const ttl = await t.redis.pttl(key);
    const start = written.indexOf('{~g');
    for (let i = start; i < written.length; i += 3) {
      const swapped = written[i] === 'A' ? 'B' : 'A';
      await t.redis.set(key, written.slice(0, i) + swapped + written.slice(i + 1), 'PX', ttl);
      const res = await replay(t, cookie);
      expect(res.status, `char ${i}`).to.equal(200);
      expect(res.userId, `char ${i}`).to.equal(null);
    }
    for (let i = 0; i < 20; i++) {
      await t.redis.set(key, randomBytes(i * 9 + 1), 'PX', ttl);
      expect((await replay(t, cookie)).status).to.equal(200);
    }
    await t.redis.set(key, written, 'PX', ttl);
    expect(await signedInAs(t, cookie)).to.equal('bo');
  });

  it('key rotation: the new first key reads old values and re-encrypts them on save; a retired key reads as fresh', async () => {
    const oldKey = randomBytes(32).toString('hex');
    const newKey = randomBytes(32);
    const redis = newRedis();
    const before = makeExpressApp({ redis, codec: aesGcmCodec({ keys: [oldKey] }) });
    const during = makeExpressApp({ redis, codec: aesGcmCodec({ keys: [newKey, oldKey] }) });
    const after = makeExpressApp({ redis, codec: aesGcmCodec({ keys: [newKey] }) });
    const cookie = captured(await before.agent().post('/login?user=cal').expect(200))!;
    expect(await signedInAs(after, cookie)).to.equal(null);
    expect(await signedInAs(during, cookie)).to.equal('cal');
    await supertest(during.app).post('/set?cart=9').set('Cookie', cookie).expect(200);
    expect((await replay(after, cookie)).data).to.deep.equal({ cart: '9' });
    expect(await signedInAs(before, cookie)).to.equal(null);
  });

  it('adopts connect-redis sessions into encrypted values', async () => {
    const t = makeExpressApp({
      codec: aesGcmCodec({ keys: [randomBytes(32)] }),
      legacy: {
        prefix: 'old:',
        userId: (d) => (typeof d.user === 'string' ? d.user : undefined),
      },
    });
    const sid = randomUUID();
    const expires = new Date(Date.now() + 3_000_000).toISOString();
    await t.redis.set(
      `old:${sid}`,
      JSON.stringify({
        cookie: { originalMaxAge: 3_600_000, expires, httpOnly: true, path: '/' },
        user: 'dot',
        cart: SECRET_DATA,
      }),
      'PX',
      3_600_000,
    );
    const res = await supertest(t.app).get('/whoami').set('Cookie', signedCookie(sid)).expect(200);
    expect(res.body).to.deep.include({ userId: 'dot', data: { user: 'dot', cart: SECRET_DATA } });
    expect(await allKeys(t.redis, 'old:*')).to.deep.equal([]);
    expect(await everyValue(t)).not.to.include(SECRET_DATA);
    expect((await replay(t, captured(res)!)).data).to.deep.equal({ user: 'dot', cart: SECRET_DATA });
  });

  it('a custom serializer: saveUninitialized still stores no empty session, and login rebuilds req.session through it', async () => {
    // A serializer whose empty text is not '{}': the empty check must ask the serializer.
    const versioned: SessionCodec = {
      serialize: (data) => `v1:${JSON.stringify(data)}`,
      deserialize: (text) => (text.startsWith('v1:') ? JSON.parse(text.slice(3)) : undefined),
    };
    const t = makeExpressApp({ codec: versioned });
    await t.agent().get('/whoami').expect(200);
    expect(await allKeys(t.redis, 'sess:*')).to.deep.equal([]);
    const agent = t.agent();
    await agent.post('/set?cart=4').expect(200);
    const login = await agent.post('/login?user=eli').expect(200);
    expect(login.body).to.deep.include({ userId: 'eli', data: { cart: '4' } });
    expect(dataPart((await t.redis.get(await sessionKey(t, 'eli')))!)).to.equal('{~sv1:{"cart":"4"}');
    expect((await agent.get('/whoami').expect(200)).body.data).to.deep.equal({ cart: '4' });
    // After a logout express-session saves the new, empty session: not stored (saveUninitialized: false).
    await agent.post('/logout').expect(200);
    expect(await allKeys(t.redis, 'sess:a:*')).to.deep.equal([]);
  });
});
