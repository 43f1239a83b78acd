import { expect } from 'chai';
import fc from 'fast-check';
import {
  dataJson,
  decodeDevice,
  decodeHeader,
  decodeValue,
  deviceRecord,
  encodeValue,
} from '../../lib/value.js';

describe('stored value (unit)', () => {
  it('drops _expire (derived from the TTL) and keeps everything else', () => {
    expect(dataJson({ a: 1, _expire: 123, _maxAge: 5 })).to.equal('{"a":1,"_maxAge":5}');
  });

  it('round-trips data with and without device metadata (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), fc.string(), (data, ip, ua) => {
        const json = JSON.stringify(data);
        const plain = decodeValue(encodeValue(json, undefined, Date.now()))!;
        expect(plain.dataJson).to.equal(json);
        const now = Date.now();
        const meta = { createdAt: now - 5, ip: ip.slice(0, 64), userAgent: ua.slice(0, 256) };
        const rich = decodeValue(encodeValue(json, meta, now))!;
        expect(rich.dataJson).to.equal(json);
        const device = deviceRecord(meta);
        const second = (time: number) => Math.floor(time / 1000) * 1000;
        expect(rich.header).to.deep.equal({
          lastSeenAt: second(now),
          createdAt: second(now - 5),
          deviceRef: device.ref,
        });
        expect(decodeDevice(device.value)).to.deep.equal({ ip: meta.ip, userAgent: meta.userAgent });
      }),
      { numRuns: 500 },
    );
  });

  it('turns malformed values into undefined, never a throw', () => {
    const header = '00000010000002AAAAAA';
    const bad = [
      '',
      '{',
      'garbage',
      `${header}\n{}`,
      `${header}[]`,
      `${header.slice(1)}{}`,
      `${header}null`,
      `${header}{`,
      'null',
    ];
    for (const raw of bad) expect(decodeValue(raw)).to.equal(undefined, raw);
    expect(decodeValue(`${header}{"a":1}`)?.header).to.deep.equal({
      lastSeenAt: 1000,
      createdAt: 2000,
      deviceRef: 'AAAAAA',
    });
    expect(decodeHeader('zzzzzzz{')).to.equal(undefined);
    expect(decodeDevice('not json')).to.deep.equal({ ip: '', userAgent: '' });
  });
});
