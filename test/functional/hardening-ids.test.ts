// Issue 11, case 5: user ids that start with a byte-order mark round-trip, and events name the right user.
import { expect } from 'chai';
import { closeClients, makeApp } from '../support/app.js';
import { captured, replay } from '../support/replay.js';

const BOM_IDS = ['\uFEFFalice', '\uFEFF', `\uFEFF${'b'.repeat(70)}`];
const show = (id: string) => JSON.stringify(id).replace(/\uFEFF/g, '\\uFEFF');

describe('hardening (issue 11): user ids with a byte-order mark (invariant 5)', () => {
  afterEach(closeClients);

  for (const id of BOM_IDS) {
    it(`invariant 5: ${show(id)} signs in and is signed in on the next request with the exact id; 'rejected' names it after a rotate`, async () => {
      const t = makeApp();
      const rejected: { userId?: string }[] = [];
      t.sessions.events.on('rejected', (event) => rejected.push(event));
      // The plain "alice" is signed in too: a BOM id must not be confused with it.
      const plain = t.agent();
      await plain.post('/login?user=alice').expect(200);

      const res = await t.agent().post('/login').type('text').send(id).expect(200);
      expect(res.body.userId).to.equal(id);
      const cookie = captured(res);
      expect(cookie).to.be.a('string');
      const next = await replay(t, cookie!);
      expect(next.userId, 'the next request is signed in with the exact id').to.equal(id);

      expect(await t.sessions.rotate(id)).to.equal(true);
      const after = await replay(t, cookie!);
      expect(after.userId).to.equal(null);
      expect(rejected.length, "a 'rejected' event for the revoked cookie").to.be.at.least(1);
      const last = rejected.at(-1)!;
      // Ids longer than 60 bytes are not carried by the cookie: the event may leave them out.
      if (Buffer.byteLength(id) <= 60 || last.userId !== undefined) {
        expect(last.userId, "the 'rejected' event names the user").to.equal(id);
      }
      expect((await plain.get('/whoami')).body.userId, 'the plain id is untouched').to.equal('alice');
    });
  }
});
