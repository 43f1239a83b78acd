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
} from '../../lib/value.js';

describe('stored value (unit)', () => {
  it('takes _expire out of the JSON (the value keeps it in front) and keeps everything else', () => {
    expect(dataJson({ a: 1, _expire: 123, _maxAge: 5 })).to.equal('{"a":1,"_maxAge":5}');
    expect(dataJson({ a: 1, _session: true })).to.equal('{"a":1,"_session":true}');
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
