import { expect } from 'chai';
import fc from 'fast-check';
import {
  dataJson,
  decodeDevice,
  decodeHeader,
  decodeValue,
  deviceRecord,
  encodeHeader,
  encodeValue,
  normaliseIp,
  rawHeader,
  restoreLifetime,
} from '../../lib/core/value.js';

describe('stored value (unit)', () => {
  it('takes _expire out of the JSON (the value keeps it in front) and keeps everything else', () => {
    expect(dataJson({ a: 1, _expire: 123, _maxAge: 5 })).to.equal('{"a":1,"_maxAge":5}');
    expect(dataJson({ a: 1, _session: true })).to.equal('{"a":1,"_session":true}');
  });

  it('leaves out the lifetime when it is the default, and restoreLifetime puts it back exactly (property)', () => {
    expect(dataJson({ a: 1, _expire: 123, _maxAge: 5 }, 5)).to.equal('{"a":1}');
    expect(dataJson({ a: 1, _expire: 123, _maxAge: 5 }, 6)).to.equal('{"a":1,"_maxAge":5}');
    expect(dataJson({ _expire: 123, _maxAge: 5 }, 5)).to.equal('{}');
    // A browser-session marker stays: a deploy must not make such a cookie persistent.
    expect(dataJson({ a: 1, _session: true }, 'session')).to.equal('{"a":1,"_session":true}');
    expect(dataJson({ a: 1, _session: true }, 5)).to.equal('{"a":1,"_session":true}');
    // Only koa-session's own fields at the top level: nested look-alikes and strings stay.
    expect(dataJson({ a: { _expire: 1, _maxAge: 5 } }, 5)).to.equal('{"a":{"_expire":1,"_maxAge":5}}');
    expect(dataJson({ a: ',"_expire":1,"_maxAge":5}' }, 5)).to.equal(
      '{"a":",\\"_expire\\":1,\\"_maxAge\\":5}"}',
    );
    const implied = fc.oneof(fc.constant<'session'>('session'), fc.integer({ min: 1, max: 1e9 }));
    const lifetime = fc.oneof(
      fc.constant({}),
      fc.record({ _session: fc.constant(true) }),
      fc.record({ _expire: fc.integer(), _maxAge: fc.integer({ min: 1, max: 1e9 }) }),
      fc.record({ _maxAge: fc.integer({ min: 1, max: 1e9 }), _expire: fc.integer() }),
      fc.record({ _maxAge: fc.constant(5) }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), lifetime, implied, (data, life, dflt) => {
        const saved = { ...data, ...life };
        const json = dataJson(saved, dflt);
        const read = JSON.parse(json);
        restoreLifetime(read, dflt);
        const { _expire, ...want } = saved as Record<string, unknown>;
        if (!('_maxAge' in want) && !('_session' in want) && dflt !== 'session') want._maxAge = dflt;
        // Through JSON, as Redis keeps it (-0 becomes 0).
        expect(read).to.deep.equal(JSON.parse(JSON.stringify(want)));
        expect(json.length).to.be.at.most(JSON.stringify(want).length);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips the expiry and data, with and without device metadata (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.string(),
        fc.string(),
        fc.integer({ min: 0, max: 36 ** 9 - 1 }),
        (data, ip, ua, expiresAt) => {
          const json = JSON.stringify(data);
          const plain = decodeValue(encodeValue(expiresAt, '', json))!;
          expect(plain).to.include({ dataJson: json, expiresAt, header: undefined });
          const now = Date.now();
          const meta = { createdAt: now - 5, ip: ip.slice(0, 64), userAgent: ua.slice(0, 256) };
          const raw = encodeValue(expiresAt, encodeHeader(meta, now), json);
          const rich = decodeValue(raw)!;
          expect(rich).to.include({ dataJson: json, expiresAt });
          expect(rawHeader(raw)).to.equal(encodeHeader(meta, now));
          const device = deviceRecord(meta);
          const second = (time: number) => Math.floor(time / 1000) * 1000;
          expect(rich.header).to.deep.equal({
            lastSeenAt: second(now),
            createdAt: second(now - 5),
            deviceRef: device.ref,
          });
          expect(decodeDevice(device.value)).to.deep.equal({
            ip: normaliseIp(meta.ip),
            userAgent: meta.userAgent,
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('turns malformed values into undefined, never a throw', () => {
    const expires = '00000zzzz';
    const header = '00000010000002AAAAAA';
    const bad = [
      '',
      '{',
      '{"a":1}',
      'garbage',
      `${expires}`,
      `${expires}\n{}`,
      `${expires}${header}\n{}`,
      `${expires}${header}[]`,
      `${expires}${header.slice(1)}{}`,
      `${expires}${header}null`,
      `${expires}${header}{`,
      `${expires}null`,
      `${expires.toUpperCase()}{}`,
      `${header}{"a":1}`,
    ];
    for (const raw of bad) expect(decodeValue(raw)).to.equal(undefined, raw);
    expect(decodeValue(`${expires}${header}{"a":1}`)?.header).to.deep.equal({
      lastSeenAt: 1000,
      createdAt: 2000,
      deviceRef: 'AAAAAA',
    });
    expect(decodeHeader('zzzzzzz{')).to.equal(undefined);
    expect(decodeDevice('not json')).to.deep.equal({ ip: '', userAgent: '' });
  });

  it('shows IPv4 clients of a dual-stack socket as plain IPv4', () => {
    expect(normaliseIp('::ffff:192.0.2.1')).to.equal('192.0.2.1');
    expect(normaliseIp('::ffff:c000:201')).to.equal('::ffff:c000:201');
    expect(normaliseIp('2001:db8::1')).to.equal('2001:db8::1');
    expect(decodeDevice(JSON.stringify(['::ffff:127.0.0.1', 'ua']))).to.deep.equal({
      ip: '127.0.0.1',
      userAgent: 'ua',
    });
  });
});
