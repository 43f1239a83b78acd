// From the adversarial review (issue 11 case 7): revoke by handle under replica lag, from an instance that must guess the epoch.

import { inspect } from 'node:util';
import { expect } from 'chai';
import { createSessionAdmin, SessionReplicationError } from '../../lib/index.js';
import { closeClients, makeApp, newRedis } from '../support/app.js';
import { captured, signedInAs } from '../support/replay.js';

describe('review (issue 11): waitForReplicas and revoke by handle from a cold instance', () => {
  afterEach(closeClients);
  for (const user of ['alice', `${'x'.repeat(80)}@long-id.example`]) {
    it(`invariant 1: the revoke is applied before "applied" is reported, the error carries no epoch, and a retry is meaningful (${user.length}-char id)`, async () => {
      const t = makeApp({ registry: true });
      const login = await t.agent().post('/login').send(user).set('content-type', 'text/plain').expect(200);
      const cookie = captured(login)!;
      const handle = login.body.login.sessionId as string;
      expect(await signedInAs(t, cookie)).to.equal(user);
      // No replica here: WAIT answers 0, so every acknowledged step reports lag.
      const admin = createSessionAdmin({
        redis: newRedis(),
        registry: true,
        waitForReplicas: { replicas: 1, timeout: 20 },
      });
      const thrown = await admin.revoke(user, handle).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(thrown).to.be.instanceOf(SessionReplicationError);
      expect((thrown as SessionReplicationError).applied).to.equal(true);
      expect((thrown as SessionReplicationError).result).to.equal(true);
      expect(await signedInAs(t, cookie), 'revoked on the master').to.equal(null);
      const shown = inspect(thrown, { depth: Number.POSITIVE_INFINITY, showHidden: true });
      const epoch = decodeURIComponent(cookie).split('.')[1]!;
      expect(shown).to.not.include(epoch);
      expect(shown).to.not.include('@long-id.example');
      // The retry finds nothing left to end under that id.
      expect(await admin.revoke(user, handle)).to.equal(false);
    });
  }
});
