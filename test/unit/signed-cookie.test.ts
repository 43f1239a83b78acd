import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import Keygrip from 'keygrip';
import Koa from 'koa';
import { signedCookieReader } from '../../lib/koa/signed-cookie.js';

/** A Koa context for a request carrying `cookie`, with nothing else behind it. */
function contextFor(app: Koa, cookie: string | undefined) {
  const req = new IncomingMessage(new Socket());
  if (cookie !== undefined) req.headers.cookie = cookie;
  const res = new ServerResponse(req);
  return app.createContext(req, res);
}

const cookieValue = fc.stringMatching(/^[A-Za-z0-9._~-]{0,40}$/);
const secret = fc.string({ minLength: 1, maxLength: 20 });

describe('signed cookie reader (unit): the same outcomes as Koa with Keygrip, one HMAC per key', () => {
  it('returns the value, re-signs under the first key, or clears the signature exactly as Koa does (property)', () => {
    fc.assert(
      fc.property(
        fc.array(secret, { minLength: 1, maxLength: 3 }),
        fc.array(secret, { minLength: 0, maxLength: 2 }),
        cookieValue,
        fc.constantFrom(
          'intact',
          'tampered',
          'other-key',
          'missing-sig',
          'missing-value',
          'quoted',
          'empty-sig',
        ),
        fc.nat(40),
        (keys, otherKeys, value, mutation, at) => {
          const app = new Koa();
          app.keys = keys;
          // The signing key: any of the app's keys (as after a rotation), or one it does not know.
          const signer = mutation === 'other-key' ? [...otherKeys, 'not-an-app-key'] : keys;
          let signature = new Keygrip([signer[at % signer.length]!]).sign(`sid=${value}`);
          if (mutation === 'tampered') {
            const i = at % signature.length;
            signature = signature.slice(0, i) + (signature[i] === 'A' ? 'B' : 'A') + signature.slice(i + 1);
          }
          let header = `sid=${mutation === 'quoted' ? `"${value}"` : value}; sid.sig=${signature}`;
          if (mutation === 'missing-sig') header = `sid=${value}`;
          if (mutation === 'missing-value') header = `sid.sig=${signature}`;
          if (mutation === 'empty-sig') header = `sid=${value}; sid.sig=`;
          const ours = contextFor(app, header);
          const koa = contextFor(app, header);
          const read = signedCookieReader('sid')(ours);
          expect(read?.value).to.equal(koa.cookies.get('sid', { signed: true }));
          expect(ours.response.get('Set-Cookie')).to.deep.equal(koa.response.get('Set-Cookie'));
          // "current" promises that Koa re-issued nothing for this cookie: the store then may skip it.
          if (read?.current) expect(koa.response.get('Set-Cookie')).to.equal(undefined);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("takes Koa's own path when app.keys is a Keygrip instance", () => {
    const app = new Koa();
    app.keys = new Keygrip(['k1', 'k2']) as unknown as string[];
    const header = `sid=abc; sid.sig=${new Keygrip(['k2']).sign('sid=abc')}`;
    const ctx = contextFor(app, header);
    expect(signedCookieReader('sid')(ctx)).to.deep.equal({ value: 'abc', current: false });
    expect(String(ctx.response.get('Set-Cookie'))).to.match(/^sid\.sig=/);
    expect(signedCookieReader('sid')(contextFor(app, undefined))).to.equal(undefined);
  });
});
