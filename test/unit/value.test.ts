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
        expect(rich.header).to.deep.equal({ lastSeenAt: now, createdAt: now - 5, deviceRef: device.ref });
        expect(decodeDevice(device.value)).to.deep.equal({ ip: meta.ip, userAgent: meta.userAgent });
      }),
      { numRuns: 500 },
    );
  });

  it('turns malformed values into undefined, never a throw', () => {
    const header = '0000000100000002AAAAAAAAAAA';
    const bad = [
      '',
      '{',
      'garbage',
      `${header}{}`,
      `${header}\n[]`,
      `${header.slice(1)}\n{}`,
      `${header}\nnull`,
      'null',
    ];
    for (const raw of bad) expect(decodeValue(raw)).to.equal(undefined, raw);
    expect(decodeValue(`${header}\n{"a":1}`)?.header).to.deep.equal({
      lastSeenAt: 1,
      createdAt: 2,
      deviceRef: 'AAAAAAAAAAA',
    });
    expect(decodeHeader('zzzzzzzz{')).to.equal(undefined);
    expect(decodeDevice('not json')).to.deep.equal({ ip: '', userAgent: '' });
  });
});
