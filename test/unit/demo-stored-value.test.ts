// The demo's "What Redis holds for this session" panel, rendered from a made-up value: escaping and the parts it names.
import { expect } from 'chai';
import type { StoredSession } from '../../demo/stored-value.js';
import { storedValuePanel } from '../../demo/views/stored-value.js';

function stored(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    key: { base: 'demo:sess:{YWxpY2U}:', handle: 'h4nd1eh4nd1eh4nd' },
    length: 200,
    expires: '00lz3k1ab',
    header: 'sx1a2b3sx19z9zAbC-_d',
    data: '{~gK3yId_AbCdEf',
    truncated: true,
    ...overrides,
  };
}

describe('demo "What Redis holds" panel (unit)', () => {
  it('renders nothing without a stored value', () => {
    expect(storedValuePanel(undefined).value).to.equal('');
  });

  it('names the key id of an encrypted value and says how much it shows', () => {
    const panel = storedValuePanel(stored()).value;
    expect(panel)
      .to.include('<code>K3yId_</code>, the id of the key that encrypted it')
      .and.include('its first 44 of 200 characters')
      .and.include('In clear: when the session ends')
      .and.include('In clear: last seen, signed in, which device')
      .and.include('Encrypted: the session data')
      .and.include('{~gK3yId_AbCdEf</span>…</pre>');
  });

  it('escapes every part, and says so when the data is not encrypted', () => {
    const hostile = '<img src=x onerror=alert(1)>"\'&';
    const panel = storedValuePanel(
      stored({
        key: { base: hostile, handle: hostile },
        expires: hostile,
        header: hostile,
        data: `{"note":"${hostile}"}`,
        truncated: false,
        length: 40,
      }),
    ).value;
    expect(panel).to.not.include('<img').and.not.include('onerror=alert(1)>');
    expect(panel).to.include('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    expect(panel).to.include('Not encrypted: the session data').and.include('40 characters:');
    expect(panel).to.not.include('the id of the key');
  });

  it('leaves out the header line for a value written without the registry', () => {
    const panel = storedValuePanel(stored({ header: '' })).value;
    expect(panel).to.include('when the session ends');
    expect(panel).to.not.include('which device');
  });
});
