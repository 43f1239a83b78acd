// The home page's "What Redis holds for this session" panel: the raw value, its parts named, and why only the data is encrypted.
import type { StoredSession } from '../stored-value.js';
import { type Html, html } from './html.js';

const GCM = '{~g';
const KEY_ID_LENGTH = 6;

export function storedValuePanel(stored: StoredSession | undefined): Html {
  if (!stored) return html``;
  const encrypted = stored.data.startsWith(GCM);
  const keyId = encrypted ? stored.data.slice(GCM.length, GCM.length + KEY_ID_LENGTH) : '';
  return html`<section class="card explain" aria-labelledby="stored-heading">
  <h2 id="stored-heading">What Redis holds for this session</h2>
  <p class="meta">The value of <code>${stored.key.base}<var>epoch</var>:${stored.key.handle}</code>,
    ${stored.truncated ? `its first ${stored.expires.length + stored.header.length + stored.data.length} of ${stored.length} characters` : `${stored.length} characters`}:</p>
  <pre class="stored" data-stored-value><span class="part is-expires">${stored.expires}</span><span class="part is-header">${stored.header}</span><span class="part is-data">${stored.data}</span>${stored.truncated ? '…' : ''}</pre>
  <dl class="parts">
    <dt><span class="swatch is-expires"></span>In clear: when the session ends</dt>
    <dd>Milliseconds, base36. Redis scripts check it on every read without any key, so a stale cookie never gets in.</dd>
    ${
      stored.header &&
      html`<dt><span class="swatch is-header"></span>In clear: last seen, signed in, which device</dt>
    <dd>The device list above reads these, for every device of the account, and each request refreshes "last seen"
      in place. Neither needs to decrypt anything.</dd>`
    }
    <dt><span class="swatch is-data"></span>${encrypted ? html`Encrypted: the session data` : 'Not encrypted: the session data'}</dt>
    <dd>${
      encrypted
        ? html`<code>{~g</code>, then <code>${keyId}</code>, the id of the key that encrypted it, then the IV, the
      AES-256-GCM ciphertext and its tag. Your CSRF token, messages and koa-session's own fields are in there: a copy of
      Redis shows none of them without the keys, and a value moved to another session's key does not decrypt.`
        : 'The app runs without a codec, so this is the JSON the app keeps in the session.'
    }</dd>
  </dl>
</section>`;
}
