// The demo's device labels: real user-agent strings through bowser, and headers no browser sends.
import { expect } from 'chai';
import fc from 'fast-check';
import { parseUserAgent } from '../../demo/user-agent.js';

describe('demo device labels (bowser, unit)', () => {
  const browsers: [string, string, boolean][] = [
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Safari 17 on macOS',
      false,
    ],
    [
      'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Safari 17 on iOS',
      true,
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Safari/537.36',
      'Chrome 126 on Android',
      true,
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
      'Samsung Internet 25 on Android',
      true,
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0',
      'Opera 111 on Windows',
      false,
    ],
    [
      'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      'Chrome 126 on Chrome OS',
      false,
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
      'Firefox 128 on Windows',
      false,
    ],
    [
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'Googlebot 2 on Unknown OS',
      false,
    ],
  ];
  for (const [ua, label, mobile] of browsers) {
    it(`reads ${label}`, () => {
      expect(parseUserAgent(ua)).to.include({ label, mobile });
    });
  }

  it('calls a client bowser does not know "Unknown browser", not whatever text the header carries', () => {
    // bowser's own fallback would name these "curl", "Mozilla" and "<script>…".
    for (const ua of [
      'curl/8.5.0',
      'python-requests/2.32.3 x',
      'Mozilla/5.0 (compatible; SomeCrawler/1.0)',
      '<script>alert(1)</script>/1 (x',
      undefined,
      '   ',
    ]) {
      expect(parseUserAgent(ua).browser, String(ua)).to.equal('Unknown browser');
    }
  });

  it('drops a version no browser has, rather than putting 400 digits in the label', () => {
    const ua = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/${'9'.repeat(400)} Safari/537.36`;
    expect(parseUserAgent(ua).label).to.equal('Chrome on Linux');
  });

  it('never throws and keeps labels short, whatever the header (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (ua) => {
        const device = parseUserAgent(ua);
        return device.label.length < 80 && device.label === `${device.browser} on ${device.os}`;
      }),
    );
  });

  it('spends little on headers built to make its patterns backtrack', () => {
    const units = ['Version/1 ', 'Chrome/1.', 'Mobile ', '(', 'like Mac OS X ', '_1', '/', ' /a'];
    const started = performance.now();
    for (const unit of units) parseUserAgent(`Mozilla/5.0 ${unit.repeat(5000)}`);
    // A few milliseconds each in practice; the bound leaves room for a busy CI machine.
    expect(performance.now() - started).to.be.below(400);
  });
});
