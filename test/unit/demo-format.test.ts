// The demo's relative times ("3 minutes ago"), worded by Intl.RelativeTimeFormat.
import { expect } from 'chai';
import { ago } from '../../demo/views/format.js';

describe('demo relative times (Intl.RelativeTimeFormat, unit)', () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);
  const earlier = (ms: number) => new Date(now - ms);
  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;

  const cases: [number, string][] = [
    [0, 'now'],
    [44 * SECOND, 'now'],
    [45 * SECOND, '1 minute ago'],
    [3 * MINUTE, '3 minutes ago'],
    [3 * MINUTE + 29 * SECOND, '3 minutes ago'],
    [59 * MINUTE, '59 minutes ago'],
    [60 * MINUTE, '1 hour ago'],
    [5 * HOUR, '5 hours ago'],
    [DAY, 'yesterday'],
    [5 * DAY, '5 days ago'],
  ];
  for (const [elapsed, words] of cases) {
    it(`reads ${elapsed / 1000} s ago as "${words}"`, () => {
      expect(ago(earlier(elapsed), now)).to.equal(words);
    });
  }

  it('reads a time ahead of this clock (another server’s skew) as the future, not "-2 minutes ago"', () => {
    expect(ago(earlier(-2 * MINUTE), now)).to.equal('in 2 minutes');
    expect(ago(earlier(-10 * SECOND), now)).to.equal('now');
  });

  it('words every case as Intl.RelativeTimeFormat does, so plurals come from ICU', () => {
    const intl = new Intl.RelativeTimeFormat('en-GB', { numeric: 'auto' });
    expect(ago(earlier(2 * DAY), now)).to.equal(intl.format(-2, 'day'));
    expect(ago(earlier(HOUR), now)).to.equal(intl.format(-1, 'hour'));
  });
});
