// Encryption at rest (issue 15 item 3): aesGcmCodec through a real Koa app, with the registry, rotation of keys, tampering and adoption.
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import Koa from 'koa';
import supertest from 'supertest';
import { aesGcmCodec, createSessions, type SessionCodec } from '../../lib/index.js';
import { APP_KEYS, closeClients, inspectorOf, makeApp, newRedis, type TestApp } from '../support/app.js';
import { signedCookie } from '../support/cookies.js';
import { allKeys } from '../support/redis-view.js';
import { captured, replay, signedInAs } from '../support/replay.js';

const SECRET = 'secret-apple-7f3c';
const tag = (id: string) => Buffer.from(id).toString('base64url');
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0';

/** The signed-in session keys of a user (not its epoch, registry, device or reason keys). */
async function sessionKeys(t: Pick<TestApp, 'redis'>, user: string): Promise<string[]> {
  const keys = await allKeys(t.redis, `sess:{${tag(user)}}:*`);
  return keys.filter((k) => /:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{16}$/.test(k));
}

async function onlySessionKey(t: Pick<TestApp, 'redis'>, user: string): Promise<string> {
  const keys = await sessionKeys(t, user);
  expect(keys, `the session keys of ${user}`).to.have.length(1);
  return keys[0]!;
}

/** Every string value the store wrote: none may hold session data in clear. */
async function allValues(redis: Redis): Promise<string> {
  const out: string[] = [];
  for (const key of await allKeys(redis, 'sess:*')) {
    const type = await redis.type(key);
    if (type === 'string') out.push((await redis.get(key))!);
    if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
  }
  return out.join('\n');
}

/** A key id and a value's data part: what follows the expiry (9) and, when present, the device header (20). */
function dataPart(raw: string): string {
  return raw.slice(raw[9] === '{' ? 9 : 29);
}

describe('encryption at rest: aesGcmCodec through a Koa app (issue 15)', () => {
  afterEach(closeClients);

  it('with the registry: nothing readable in Redis, and the data, list() and last-seen all work', async () => {
    const codec = aesGcmCodec({ keys: [randomBytes(32)] });
    const t = makeApp({ registry: true, codec, lastSeenInterval: 1000 });
    const agent = t.agent();
    await agent.post(`/set?cart=${SECRET}`).set('User-Agent', UA).expect(200);
    const anonymous = await allKeys(t.redis, 'sess:a:*');
    expect(anonymous).to.have.length(1);
    expect(dataPart((await t.redis.get(anonymous[0]!))!)).to.match(/^\{~g/);
    const login = await agent.post('/login?user=ada').set('User-Agent', UA).expect(200);
    expect(login.body.data).to.deep.equal({ cart: SECRET });
    await agent.post('/set?note=also-secret-b9').set('User-Agent', UA).expect(200);
    const read = await agent.get('/whoami').set('User-Agent', UA).expect(200);
    expect(read.body).to.deep.include({ userId: 'ada', data: { cart: SECRET, note: 'also-secret-b9' } });

    const key = await onlySessionKey(t, 'ada');
    const raw = (await t.redis.get(key))!;
    // The expiry and the device header stay in clear, the data does not.
    expect(raw.slice(0, 29)).to.match(/^[0-9a-z]{23}[A-Za-z0-9_-]{6}$/);
    expect(dataPart(raw)).to.match(/^\{~g[A-Za-z0-9_-]+$/);
    const everything = await allValues(t.redis);
    for (const clear of [SECRET, 'also-secret-b9', '"cart"', '_maxAge', '_auth']) {
      expect(everything).not.to.include(clear);
    }

    const [listed] = await t.sessions.list('ada');
    expect(listed).to.include({ userAgent: UA, current: false });
    expect(Date.now() - listed!.lastSeenAt.getTime()).to.be.below(5000);
    // Make the last-seen stamp old: the next read refreshes it in place (SETRANGE on the header),
    // and the encrypted data behind it still decrypts.
    await t.redis.setrange(key, 9, '0000001');
    expect((await t.sessions.list('ada'))[0]!.lastSeenAt.getTime()).to.equal(1000);
    const after = await agent.get('/whoami').set('User-Agent', UA).expect(200);
    expect(after.body).to.deep.include({ userId: 'ada', data: { cart: SECRET, note: 'also-secret-b9' } });
    const refreshed = (await t.sessions.list('ada'))[0]!;
    expect(Date.now() - refreshed.lastSeenAt.getTime()).to.be.below(5000);
    expect(dataPart((await t.redis.get(key))!)).to.equal(dataPart(raw));
  });

  it('an unchanged session is not rewritten (rolling touch compares the plaintext), a changed one is', async () => {
    const codec = aesGcmCodec({ keys: [randomBytes(32)] });
    const t = makeApp({ codec, rolling: true });
    const agent = t.agent();
    await agent.post('/login?user=bea').expect(200);
    await agent.post('/set?cart=2').expect(200);
    const key = await onlySessionKey(t, 'bea');
    const written = await t.redis.get(key);
    // Each encryption draws a new IV: a rewrite of the same data would change the value.
    for (let i = 0; i < 3; i++) await agent.get('/whoami').expect(200);
    expect(await t.redis.get(key)).to.equal(written);
    await agent.post('/set?cart=3').expect(200);
    expect(await t.redis.get(key)).not.to.equal(written);
    expect((await agent.get('/whoami').expect(200)).body.data).to.deep.equal({ cart: '3' });
  });

  it('rotates keys: a new first key reads old sessions and re-encrypts on save; the old key retired, they read as fresh', async () => {
    const oldKey = randomBytes(32).toString('base64');
    const newKey = randomBytes(32).toString('base64url');
    const redis = newRedis();
    const before = makeApp({ redis, codec: aesGcmCodec({ keys: [oldKey] }) });
    const during = makeApp({ redis, codec: aesGcmCodec({ keys: [newKey, oldKey] }) });
    const after = makeApp({ redis, codec: aesGcmCodec({ keys: [newKey] }) });
    const cookie = captured(await before.agent().post('/login?user=cy').expect(200))!;
    expect(await signedInAs(before, cookie)).to.equal('cy');
    // The retired key alone: a fresh anonymous session, no error, and the stored session untouched.
    const fresh = await replay(after, cookie);
    expect(fresh).to.deep.include({ status: 200, userId: null, data: {} });
    expect(await signedInAs(during, cookie)).to.equal('cy');
    const key = await onlySessionKey(before, 'cy');
    const oldValue = (await before.redis.get(key))!;
    // A save under the new first key re-encrypts with it: now the new key alone reads it...
    const saved = await supertest(during.app.callback())
      .post(`/set?cart=${SECRET}`)
      .set('Cookie', cookie)
      .expect(200);
    expect(saved.body).to.deep.include({ userId: 'cy', data: { cart: SECRET } });
    const newValue = (await before.redis.get(key))!;
    expect(dataPart(newValue).slice(0, 9)).not.to.equal(dataPart(oldValue).slice(0, 9));
    expect(await replay(after, cookie)).to.deep.include({ userId: 'cy', data: { cart: SECRET } });
    // ...and the old key alone no longer does.
    expect(await signedInAs(before, cookie)).to.equal(null);
  });

  it('a tampered, truncated, foreign or random value under a real session key gives a fresh session, never a 500', async () => {
    const t = makeApp({ registry: true, codec: aesGcmCodec({ keys: [randomBytes(32)] }) });
    const alice = captured(await t.agent().post('/login?user=alice').expect(200))!;
    const bob = captured(await t.agent().post('/login?user=bob').expect(200))!;
    const aliceKey = await onlySessionKey(t, 'alice');
    const bobKey = await onlySessionKey(t, 'bob');
    const original = (await t.redis.get(aliceKey))!;
    const ttl = await t.redis.pttl(aliceKey);
    const tryValue = async (value: string | Buffer, label: string) => {
      await t.redis.set(aliceKey, value, 'PX', ttl);
      const res = await replay(t, alice);
      expect(res.status, label).to.equal(200);
      expect(res.userId, label).to.equal(null);
      expect(res.data, label).to.deep.equal({});
    };
    const start = original.indexOf('{~g');
    // Every character of the data part, changed.
    for (let i = start; i < original.length; i++) {
      const swapped = original[i] === 'A' ? 'B' : 'A';
      await tryValue(original.slice(0, i) + swapped + original.slice(i + 1), `char ${i} changed`);
    }
    for (const cut of [start, start + 3, start + 9, start + 20, original.length - 1]) {
      await tryValue(original.slice(0, cut), `cut at ${cut}`);
    }
    // Random bytes: whole values, and after a valid expiry and header, where the codec sees them.
    for (let i = 0; i < 40; i++) {
      await tryValue(randomBytes(1 + (i % 7) * 20), `random ${i}`);
      await tryValue(Buffer.concat([Buffer.from(original.slice(0, start)), randomBytes(i * 5)]), `tail ${i}`);
      await tryValue(`${original.slice(0, start)}{~g${randomBytes(i * 3).toString('base64url')}`, `b64 ${i}`);
    }
    // Alice's ciphertext copied under Bob's key: bound to Alice's handle, it does not open for Bob.
    expect(await signedInAs(t, bob)).to.equal('bob');
    await t.redis.set(bobKey, original, 'PX', await t.redis.pttl(bobKey));
    expect(await replay(t, bob)).to.deep.include({ status: 200, userId: null, data: {} });
    // An anonymous session's key too: random bytes, and its own value with a byte changed.
    const visitor = captured(await t.agent().post(`/set?cart=${SECRET}`).expect(200))!;
    expect((await replay(t, visitor)).data).to.deep.equal({ cart: SECRET });
    const [anonymousKey] = await allKeys(t.redis, 'sess:a:*');
    const anonymousValue = (await t.redis.get(anonymousKey!))!;
    for (let i = 0; i < 20; i++) {
      const value =
        i === 0
          ? `${anonymousValue.slice(0, -1)}${anonymousValue.endsWith('A') ? 'B' : 'A'}`
          : randomBytes(i * 7);
      await t.redis.set(anonymousKey!, value, 'PX', 60_000);
      const res = await replay(t, visitor);
      expect(res.status, `anonymous ${i}`).to.equal(200);
      expect(res.data, `anonymous ${i}`).to.deep.equal({});
    }
    // The untouched value still works: the fresh sessions above wrote nothing over it.
    await t.redis.set(aliceKey, original, 'PX', ttl);
    expect(await signedInAs(t, alice)).to.equal('alice');
  });

  it('every path that writes a value encrypts it for its own handle: regenerate, logoutOthers, anonymous sessions', async () => {
    const t = makeApp({ registry: true, codec: aesGcmCodec({ keys: [randomBytes(32)] }) });
    const agent = t.agent();
    await agent.post(`/set?cart=${SECRET}`).expect(200);
    expect((await agent.get('/whoami').expect(200)).body.data).to.deep.equal({ cart: SECRET });
    await agent.post('/login?user=dee').expect(200);
    const other = t.agent();
    await other.post('/login?user=dee').expect(200);
    await agent.post('/regenerate').expect(200);
    expect((await agent.get('/whoami').expect(200)).body).to.deep.include({
      userId: 'dee',
      data: { cart: SECRET },
    });
    const kept = await agent.post('/logout-others').expect(200);
    expect(kept.body.kept).to.equal(true);
    expect((await agent.get('/whoami').expect(200)).body).to.deep.include({
      userId: 'dee',
      data: { cart: SECRET },
    });
    expect((await other.get('/whoami').expect(200)).body.userId).to.equal(null);
    expect(await t.sessions.list('dee')).to.have.length(1);
    expect(await allValues(t.redis)).not.to.include(SECRET);
    for (const key of await sessionKeys(t, 'dee')) {
      expect(dataPart((await t.redis.get(key))!)).to.match(/^\{~g/);
    }
  });

  it('adopts koa-redis sessions (plain JSON under the old keys) and stores them encrypted', async () => {
    const t = makeApp({
      registry: true,
      codec: aesGcmCodec({ keys: [randomBytes(32)] }),
      legacy: {
        prefix: 'old:',
        userId: (d) => (typeof d.userId === 'string' ? d.userId : undefined),
      },
    });
    const plant = async (data: Record<string, unknown>) => {
      const sid = randomUUID();
      await t.redis.set(
        `old:${sid}`,
        JSON.stringify({ ...data, _expire: Date.now() + 3_000_000, _maxAge: 3_600_000 }),
        'PX',
        3_600_000,
      );
      return sid;
    };
    const signedIn = await t
      .agent()
      .get('/whoami')
      .set('Cookie', signedCookie(await plant({ userId: 'eve', cart: SECRET })));
    expect(signedIn.body).to.deep.include({ userId: 'eve', data: { userId: 'eve', cart: SECRET } });
    const anonymous = await t
      .agent()
      .get('/whoami')
      .set('Cookie', signedCookie(await plant({ cart: SECRET })));
    expect(anonymous.body).to.deep.include({ userId: null, data: { cart: SECRET } });
    expect(await allKeys(t.redis, 'old:*')).to.deep.equal([]);
    expect(await allValues(t.redis)).not.to.include(SECRET);
    expect(await signedInAs(t, captured(signedIn)!)).to.equal('eve');
    expect((await replay(t, captured(anonymous)!)).data).to.deep.equal({ cart: SECRET });
    expect(await t.sessions.list('eve')).to.have.length(1);
  });

  it('turning encryption on: acceptUnencrypted reads the JSON sessions and encrypts them on their next save; without it they read as fresh', async () => {
    const key = randomBytes(32);
    const redis = newRedis();
    const plain = makeApp({ redis });
    const cookie = captured(await plain.agent().post(`/login?user=fay`).expect(200))!;
    await supertest(plain.app.callback()).post(`/set?cart=${SECRET}`).set('Cookie', cookie).expect(200);
    const sessionKey = await onlySessionKey(plain, 'fay');
    // Without a codec the value is JSON, as it always was.
    expect(dataPart((await plain.redis.get(sessionKey))!)).to.match(/^\{"cart":"secret-apple-7f3c"/);
    const strict = makeApp({ redis, codec: aesGcmCodec({ keys: [key] }) });
    expect(await replay(strict, cookie)).to.deep.include({ status: 200, userId: null });
    const lenient = makeApp({ redis, codec: aesGcmCodec({ keys: [key], acceptUnencrypted: true }) });
    expect(await replay(lenient, cookie)).to.deep.include({ userId: 'fay', data: { cart: SECRET } });
    await supertest(lenient.app.callback()).post('/set?more=1').set('Cookie', cookie).expect(200);
    expect(dataPart((await plain.redis.get(sessionKey))!)).to.match(/^\{~g/);
    expect(await replay(strict, cookie)).to.deep.include({
      userId: 'fay',
      data: { cart: SECRET, more: '1' },
    });
    // And a store without the codec reads an encrypted value as a fresh session, not as data.
    expect(await replay(plain, cookie)).to.deep.include({ status: 200, userId: null, data: {} });
  });

  it('docs/api.md sample: encryption with a key being rotated in, from the environment', async () => {
    const previous = randomBytes(32);
    const env = {
      SESSION_KEY: process.env.SESSION_KEY,
      SESSION_KEY_PREVIOUS: process.env.SESSION_KEY_PREVIOUS,
    };
    process.env.SESSION_KEY = randomBytes(32).toString('base64');
    process.env.SESSION_KEY_PREVIOUS = previous.toString('base64');
    try {
      const redis = newRedis();
      const app = new Koa();
      app.keys = APP_KEYS;
      const sessions = createSessions(app, {
        redis,
        registry: true,
        // Keys are 32 random bytes (openssl rand -base64 32). The first encrypts; every one decrypts.
        codec: aesGcmCodec({ keys: [process.env.SESSION_KEY!, process.env.SESSION_KEY_PREVIOUS!] }),
      });
      app.use(sessions.middleware);
      app.use(async (ctx) => {
        if (ctx.path === '/login') await sessions.login(ctx, 'hal');
        ctx.body = { userId: sessions.userId(ctx) ?? null };
      });
      const t = { app, redis: inspectorOf(redis) };
      const cookie = captured(await supertest(app.callback()).post('/login').expect(200))!;
      expect(await signedInAs(t, cookie)).to.equal('hal');
      const raw = (await t.redis.get(await onlySessionKey(t, 'hal')))!;
      // Written under the first key: the previous key alone cannot read it.
      expect(dataPart(raw)).to.match(/^\{~g/);
      const old = makeApp({ redis, codec: aesGcmCodec({ keys: [previous] }) });
      expect(await signedInAs(old, cookie)).to.equal(null);
    } finally {
      for (const [name, value] of Object.entries(env)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('a custom serializer (no encryption) keeps what JSON loses, across requests', async () => {
    // A stand-in for superjson: Dates come back as Dates.
    const serializer: SessionCodec = {
      serialize: (data) =>
        JSON.stringify(data, function (this: Record<string, unknown>, key, value) {
          return this[key] instanceof Date ? { $date: (this[key] as Date).toISOString() } : value;
        }),
      deserialize: (text) =>
        JSON.parse(text, (_key, value) =>
          value && typeof value === 'object' && typeof value.$date === 'string'
            ? new Date(value.$date)
            : value,
        ),
    };
    const t = makeApp(
      { codec: serializer },
      {
        'POST /stamp': (ctx) => {
          ctx.session!.at = new Date('2025-03-04T05:06:07.000Z');
        },
        'GET /stamp': (ctx) => {
          ctx.state.isDate = ctx.session!.at instanceof Date;
        },
      },
    );
    const agent = t.agent();
    await agent.post('/login?user=gus').expect(200);
    await agent.post('/stamp').expect(200);
    const res = await agent.get('/stamp').expect(200);
    expect(res.body).to.deep.include({
      userId: 'gus',
      isDate: true,
      data: { at: '2025-03-04T05:06:07.000Z' },
    });
    const raw = (await t.redis.get(await onlySessionKey(t, 'gus')))!;
    expect(dataPart(raw)).to.match(/^\{~s\{/);
    expect(raw).to.include('"$date"');
  });
});
