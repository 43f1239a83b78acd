import { expect } from 'chai';
import fc from 'fast-check';
import {
  externalKey,
  KeyLayout,
  newSid,
  parseExternalKey,
  randomToken,
  sessionHandle,
  userIdFromTag,
  userTag,
} from '../../lib/core/keys.js';
import { HOSTILE_IDS } from '../support/hostile-ids.js';

describe('key layout (unit)', () => {
  it('gives every hostile id a distinct tag that round-trips and stays inside the layout', () => {
    const tags = new Set<string>();
    for (const id of HOSTILE_IDS) {
      const tag = userTag(id);
      expect(tag).to.match(/^(~[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{1,80})$/);
      tags.add(tag);
      const decoded = userIdFromTag(tag);
      if (tag.startsWith('~')) expect(decoded).to.equal(undefined);
      else expect(decoded).to.equal(id);
    }
    expect(tags.size).to.equal(HOSTILE_IDS.length);
  });

  it('never maps two different ids to one tag (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1 }),
        fc.string({ unit: 'grapheme', minLength: 1 }),
        (a, b) => {
          fc.pre(a !== b);
          expect(userTag(a)).to.not.equal(userTag(b));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('rejects ids it cannot encode injectively', () => {
    for (const bad of ['', '\uD800', 'a\uDC00b', 42, null, undefined]) {
      expect(() => userTag(bad as string)).to.throw(TypeError, /userId/);
    }
  });

  it('issues sids with 128 random bits after the login time, never twice', () => {
    const now = Date.now();
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const sid = newSid(now);
      expect(sid).to.match(/^[0-9a-z]{8}[A-Za-z0-9_-]{22}$/);
      expect(Number.parseInt(sid.slice(0, 8), 36)).to.equal(now);
      seen.add(sid);
    }
    expect(seen.size).to.equal(1_000);
  });

  it('parses exactly the cookie values it issues', () => {
    const sid = newSid(Date.now());
    const anonymous = parseExternalKey(sid)!;
    expect(anonymous).to.include({ tag: undefined, sid, handle: sessionHandle(sid) });
    const tag = userTag('alice');
    const epoch = randomToken();
    const user = parseExternalKey(externalKey(tag, epoch, sid))!;
    expect(user).to.include({ tag, userId: 'alice', epoch, sid });
    // The epoch a cookie carries must be one we could have issued: 128 bits, canonical.
    expect(parseExternalKey(`${tag}.${epoch.slice(0, -1)}B.${sid}`)).to.equal(undefined);
    expect(parseExternalKey(`${tag}.${epoch.slice(1)}.${sid}`)).to.equal(undefined);
    expect(parseExternalKey(`${tag}.${sid}`), 'a cookie without the epoch reads as no session').to.equal(
      undefined,
    );
  });

  it('rejects any single-character alteration of an issued cookie value (property)', () => {
    const key = externalKey(userTag('alice'), randomToken(), newSid(Date.now()));
    fc.assert(
      fc.property(fc.nat(key.length - 1), fc.string({ minLength: 1, maxLength: 1 }), (at, ch) => {
        const altered = key.slice(0, at) + ch + key.slice(at + 1);
        fc.pre(altered !== key);
        const parsed = parseExternalKey(altered);
        // Either refused, or a different claim (another user, epoch or sid), never the same
        // session under another spelling: every part the store reads is checked or hashed.
        const [tag, epoch, sid] = key.split('.');
        if (parsed) {
          expect(
            parsed.tag === tag && parsed.epoch === epoch && parsed.handle === sessionHandle(sid!),
          ).to.equal(false);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('refuses garbage without throwing (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constant('a'.repeat(9_000))),
        (value) => {
          const parsed = parseExternalKey(value);
          if (parsed) expect(parsed.sid).to.match(/^[0-9a-z]{8}[A-Za-z0-9_-]{22}$/);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('refuses non-canonical base64url that would decode to the same user', () => {
    const sid = newSid(Date.now());
    // "QR" decodes to the same byte as "QQ" ("A") but is not what we issue.
    const epoch = randomToken();
    expect(parseExternalKey(`QQ.${epoch}.${sid}`)?.userId).to.equal('A');
    expect(parseExternalKey(`QR.${epoch}.${sid}`)).to.equal(undefined);
  });

  it('keeps every key of one user under one hash tag, and anonymous keys outside any', () => {
    const layout = new KeyLayout('sess:');
    const tag = userTag('{weird}:id');
    for (const key of [
      layout.epoch(tag),
      layout.registry(tag),
      layout.rotationReason(tag),
      layout.sessionReason(tag, 'h'),
      layout.session(tag, randomToken(), 'h'),
      layout.legacyRevoked(tag),
    ]) {
      expect(key.indexOf('{')).to.equal(5);
      expect(key.slice(6, key.indexOf('}'))).to.equal(tag);
    }
    expect(layout.anonymous('h')).to.equal('sess:a:h');
  });
});
