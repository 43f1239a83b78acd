// Session codecs (issue 15 item 3): aesGcmCodec round trips, key rotation, tampering, key checks, custom serializers.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import Koa from 'koa';
import { aesGcmCodec, dataCodec, type SessionCodec } from '../../lib/core/codec.js';
import { decodeValue, encodeHeader, encodeValue, plainData } from '../../lib/core/value.js';
import { createSessions } from '../../lib/index.js';

const HANDLE = 'AAAAAAAAAAAAAAAA';
const OTHER_HANDLE = 'BBBBBBBBBBBBBBBB';
const newKey = () => randomBytes(32);
/** The store's view of a codec: the layers it encodes and decodes with. */
const layers = (codec: SessionCodec) => dataCodec(codec)!;
/** `text` with its character at `i` replaced by another one of the base64url alphabet. */
const flip = (text: string, i: number) =>
  text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
const PLAIN = JSON.stringify({ cart: ['secret-apple'], locale: 'en-GB', _maxAge: 86_400_000 });

/** Dates survive: a small stand-in for superjson, to show a serializer under the encryption. */
const datesSerializer: SessionCodec = {
  serialize: (data) =>
    JSON.stringify(data, function (this: Record<string, unknown>, key, value) {
      const raw = this[key];
      return raw instanceof Date ? { $date: raw.toISOString() } : value;
    }),
  deserialize: (text) =>
    JSON.parse(text, (_key, value) =>
      value && typeof value === 'object' && typeof value.$date === 'string' ? new Date(value.$date) : value,
    ),
};

describe('session codecs (unit, issue 15)', () => {
  it('aesGcmCodec round-trips any data, never stores it in clear, and draws a new IV every time (property)', () => {
    const codec = layers(aesGcmCodec({ keys: [newKey()] }));
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string({ minLength: 1 }), (data, marker) => {
        const plain = JSON.stringify({ ...data, marker });
        const stored = codec.encode(plain, HANDLE);
        expect(stored).to.match(/^\{~g[A-Za-z0-9_-]{6}[A-Za-z0-9_-]+$/);
        expect(stored).not.to.include(JSON.stringify(marker));
        expect(codec.decode(stored, HANDLE)).to.deep.equal({ plain, data: JSON.parse(plain) });
        const again = codec.encode(plain, HANDLE);
        expect(again).not.to.equal(stored);
        expect(codec.decode(again, HANDLE)?.plain).to.equal(plain);
      }),
      { numRuns: 200 },
    );
  });

  it('binds a ciphertext to its session: under another handle it does not decrypt', () => {
    const codec = layers(aesGcmCodec({ keys: [newKey()] }));
    const stored = codec.encode(PLAIN, HANDLE);
    expect(codec.decode(stored, HANDLE)?.plain).to.equal(PLAIN);
    expect(codec.decode(stored, OTHER_HANDLE)).to.equal(undefined);
    expect(codec.decode(stored, '')).to.equal(undefined);
  });

  it('rotates keys: a new first key reads the old values and encrypts with itself; a retired key reads as nothing', () => {
    const oldKey = newKey();
    const freshKey = newKey();
    const before = layers(aesGcmCodec({ keys: [oldKey] }));
    const during = layers(aesGcmCodec({ keys: [freshKey, oldKey] }));
    const after = layers(aesGcmCodec({ keys: [freshKey] }));
    const written = before.encode(PLAIN, HANDLE);
    expect(during.decode(written, HANDLE)?.plain).to.equal(PLAIN);
    const rewritten = during.encode(PLAIN, HANDLE);
    // The key id in front names the key: the rewrite is under the new one, which the old codec lacks.
    expect(rewritten.slice(0, 9)).not.to.equal(written.slice(0, 9));
    expect(rewritten.slice(0, 9)).to.equal(after.encode(PLAIN, HANDLE).slice(0, 9));
    expect(before.decode(rewritten, HANDLE)).to.equal(undefined);
    expect(after.decode(rewritten, HANDLE)?.plain).to.equal(PLAIN);
    expect(after.decode(written, HANDLE)).to.equal(undefined);
    // The order of the decrypting keys does not matter, and the id is stable across codecs.
    expect(
      layers(aesGcmCodec({ keys: [newKey(), freshKey, oldKey] })).decode(written, HANDLE)?.plain,
    ).to.equal(PLAIN);
  });

  it('a changed, missing or added character anywhere in the ciphertext reads as nothing, never a throw', () => {
    const codec = layers(aesGcmCodec({ keys: [newKey()] }));
    const stored = codec.encode(PLAIN, HANDLE);
    const swaps = ['A', 'B', '-', '_', '0', '=', '+', '/', ' ', '\u00e9', '{'];
    let tried = 0;
    for (let i = 0; i < stored.length; i++) {
      for (const swap of swaps) {
        if (stored[i] === swap) continue;
        const tampered = stored.slice(0, i) + swap + stored.slice(i + 1);
        expect(codec.decode(tampered, HANDLE), `char ${i} -> ${swap}`).to.equal(undefined);
        tried++;
      }
      expect(codec.decode(stored.slice(0, i), HANDLE), `truncated to ${i}`).to.equal(undefined);
      expect(codec.decode(stored.slice(0, i) + stored.slice(i + 1), HANDLE), `char ${i} removed`).to.equal(
        undefined,
      );
    }
    for (const extra of ['A', '=', '==', ' ', '\n'])
      expect(codec.decode(stored + extra, HANDLE), `+${JSON.stringify(extra)}`).to.equal(undefined);
    expect(tried).to.be.greaterThan(stored.length * 9);
    expect(codec.decode(stored, HANDLE)?.plain).to.equal(PLAIN);
  });

  it('garbage, truncated or foreign data parts read as nothing, never a throw (property)', () => {
    const codec = layers(aesGcmCodec({ keys: [newKey()], serializer: datesSerializer }));
    const stored = codec.encode(PLAIN, HANDLE);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `{~g${s}`),
          fc.string().map((s) => stored.slice(0, 9) + s),
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
          fc
            .uint8Array({ minLength: 28, maxLength: 200 })
            .map((b) => stored.slice(0, 9) + Buffer.from(b).toString('base64url')),
        ),
        (text) => {
          expect(codec.decode(text, HANDLE)).to.equal(undefined);
          expect(decodeValue(`00000000z${text}`, codec, HANDLE)).to.equal(undefined);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses keys that are not 32 bytes, and says which key and how to make one', () => {
    const bad: unknown[] = [
      randomBytes(31),
      randomBytes(33),
      Buffer.alloc(0),
      'correct horse battery staple',
      randomBytes(31).toString('hex'),
      randomBytes(33).toString('hex'),
      randomBytes(16).toString('base64'),
      randomBytes(48).toString('base64'),
      `${randomBytes(32).toString('hex').slice(0, 63)}g`,
      `${randomBytes(32).toString('base64').slice(0, 42)}!=`,
      42,
      null,
    ];
    for (const key of bad) {
      expect(() => aesGcmCodec({ keys: [newKey(), key as Buffer] }), String(key)).to.throw(
        TypeError,
        /^koa-epoch-session: aesGcmCodec keys\[1\] must be 32 random bytes.*openssl rand -base64 32/,
      );
    }
    const key = newKey();
    for (const spelling of [key, key.toString('hex'), key.toString('base64'), key.toString('base64url')]) {
      const codec = layers(aesGcmCodec({ keys: [spelling] }));
      // Every spelling is the same key: each decrypts what the Buffer encrypted.
      const stored = layers(aesGcmCodec({ keys: [key] })).encode(PLAIN, HANDLE);
      expect(codec.decode(stored, HANDLE)?.plain).to.equal(PLAIN);
    }
    expect(() => aesGcmCodec({ keys: [] })).to.throw(TypeError, /keys must hold at least one key/);
    expect(() => aesGcmCodec({} as never)).to.throw(TypeError, /aesGcmCodec needs \{ keys/);
    expect(() => aesGcmCodec({ keys: [key, key.toString('hex')] })).to.throw(
      TypeError,
      /keys\[1\] repeats keys\[0\]/,
    );
    expect(() => aesGcmCodec({ keys: [key], serializer: {} as never })).to.throw(TypeError, /serializer/);
    expect(() => aesGcmCodec({ keys: [key], acceptUnencrypted: 'yes' as never })).to.throw(
      TypeError,
      /acceptUnencrypted must be a boolean/,
    );
  });

  it('the codec option is checked at start-up and named in the error', () => {
    const redis = new Redis({ lazyConnect: true });
    try {
      for (const codec of [{}, { serialize: () => '' }, 'json', null]) {
        const app = new Koa();
        app.keys = ['k'];
        expect(() => createSessions(app, { redis, codec: codec as never })).to.throw(
          TypeError,
          /^koa-epoch-session: codec must be an object with serialize\(data\) and deserialize\(text\)/,
        );
      }
      const app = new Koa();
      app.keys = ['k'];
      expect(
        createSessions(app, { redis, codec: aesGcmCodec({ keys: [newKey()] }) }).store.settings.codec,
      ).to.have.property('json', true);
      expect(createSessions(app, { redis }).store.settings.codec).to.equal(undefined);
    } finally {
      redis.disconnect();
    }
  });

  it('a custom serializer is stored after {~s, keeps what JSON would lose, and still reads values written as JSON', () => {
    const codec = layers(datesSerializer);
    const when = new Date('2025-01-02T03:04:05.000Z');
    const plain = codec.stringify({ seenAt: when, n: 1 });
    const stored = codec.encode(plain, HANDLE);
    expect(stored.startsWith('{~s')).to.equal(true);
    expect(codec.decode(stored, HANDLE)?.data.seenAt).to.deep.equal(when);
    // Switching from JSON to a serializer signs nobody out; an encrypted value is not read in clear.
    expect(codec.decode('{"n":2}', HANDLE)).to.deep.equal({ plain: '{"n":2}', data: { n: 2 } });
    const encrypted = layers(aesGcmCodec({ keys: [newKey()] })).encode('{"n":3}', HANDLE);
    expect(codec.decode(encrypted, HANDLE)).to.equal(undefined);
    // A serializer that throws, or gives no object, reads as nothing.
    const throwing = layers({
      serialize: () => 'x',
      deserialize: () => {
        throw new Error('bad text');
      },
    });
    expect(throwing.decode('{~sx', HANDLE)).to.equal(undefined);
    expect(layers({ serialize: () => 'x', deserialize: () => [1] as never }).decode('{~sx', HANDLE)).to.equal(
      undefined,
    );
  });

  it('encrypts what a custom serializer produced, and compares that text, not the ciphertext', () => {
    const codec = layers(aesGcmCodec({ keys: [newKey()], serializer: datesSerializer }));
    const when = new Date('2025-06-07T08:09:10.000Z');
    const plain = plainData(codec, { seenAt: when, _expire: 5, _maxAge: 9 }, 1234.5, undefined);
    expect(plain).to.equal(datesSerializer.serialize({ seenAt: when, _maxAge: 9, _auth: 1234 }));
    const decoded = codec.decode(codec.encode(plain, HANDLE), HANDLE)!;
    expect(decoded.plain).to.equal(plain);
    expect(decoded.data.seenAt).to.deep.equal(when);
    expect(decoded.data._auth).to.equal(1234);
    // With JSON under the encryption, the plaintext is the very JSON the store writes without a codec.
    const json = layers(aesGcmCodec({ keys: [newKey()] }));
    expect(plainData(json, { a: 1, _expire: 5 }, 7, 60_000)).to.equal(
      plainData(undefined, { a: 1, _expire: 5 }, 7, 60_000),
    );
  });

  it('reads unencrypted values only with acceptUnencrypted, and still encrypts every write', () => {
    const key = newKey();
    const strict = layers(aesGcmCodec({ keys: [key] }));
    const lenient = layers(aesGcmCodec({ keys: [key], acceptUnencrypted: true }));
    expect(strict.decode('{"cart":1}', HANDLE)).to.equal(undefined);
    expect(strict.decode('{~s{"cart":1}', HANDLE)).to.equal(undefined);
    expect(lenient.decode('{"cart":1}', HANDLE)?.data).to.deep.equal({ cart: 1 });
    expect(lenient.decode('{~s{"cart":1}', HANDLE)?.data).to.deep.equal({ cart: 1 });
    expect(lenient.decode('{~x{"cart":1}', HANDLE)).to.equal(undefined);
    expect(lenient.encode('{"cart":1}', HANDLE).startsWith('{~g')).to.equal(true);
  });

  it('the value keeps its expiry and device header in clear, in front of the encrypted data', () => {
    const codec = layers(aesGcmCodec({ keys: [newKey()] }));
    const now = Date.now();
    const header = encodeHeader({ createdAt: now, ip: '192.0.2.1', userAgent: 'ua' }, now);
    for (const head of ['', header]) {
      const raw = encodeValue(now + 60_000, head, PLAIN, codec, HANDLE);
      expect(raw.slice(9, 9 + head.length)).to.equal(head);
      expect(raw[9 + head.length]).to.equal('{');
      expect(raw).not.to.include('secret-apple');
      const value = decodeValue(raw, codec, HANDLE)!;
      expect(value).to.include({ expiresAt: now + 60_000, dataJson: PLAIN });
      expect(value.header?.createdAt).to.equal(head ? Math.floor(now / 1000) * 1000 : undefined);
      expect(decodeValue(raw, codec, OTHER_HANDLE)).to.equal(undefined);
      // A store without the codec reads it as nothing (a fresh session), not as data.
      expect(decodeValue(raw)).to.equal(undefined);
      // Without a codec the value is what it always was.
      expect(encodeValue(now, head, PLAIN, undefined, HANDLE)).to.equal(encodeValue(now, head, PLAIN));
    }
  });

  it('the codec itself round-trips outside the store, and rejects what it did not write', () => {
    const codec = aesGcmCodec({ keys: [newKey()] });
    const text = codec.serialize({ a: 1 });
    expect(codec.deserialize(text)).to.deep.equal({ a: 1 });
    expect(codec.deserialize(flip(text, text.length - 5))).to.equal(undefined);
    expect(codec.deserialize('{"a":1}')).to.equal(undefined);
  });
});
