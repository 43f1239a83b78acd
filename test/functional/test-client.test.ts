// The run's client is the one the store really uses: a node-redis run must not fall back to ioredis unnoticed.
import { expect } from 'chai';
import { isIoredis } from '../../lib/core/ioredis-driver.js';
import { nodeRedisKind } from '../../lib/core/node-redis-driver.js';
import { closeClients, makeApp } from '../support/app.js';
import { TEST_CLIENT } from '../support/clients.js';
import { testClusterNodes } from '../support/hooks.js';

describe(`the client under test (${TEST_CLIENT}${testClusterNodes() ? ', Cluster' : ''})`, () => {
  afterEach(closeClients);

  it('is the client the store was given, of the kind this run names', async () => {
    const t = makeApp();
    const client = t.sessions.store.settings.redis;
    if (TEST_CLIENT === 'node-redis') {
      expect(isIoredis(client)).to.equal(false);
      expect(nodeRedisKind(client)).to.equal(testClusterNodes() ? 'cluster' : 'client');
    } else {
      expect(isIoredis(client)).to.equal(true);
    }
    await t.agent().post('/login?user=probe').expect(200);
    expect(await t.sessions.rotate('probe')).to.equal(true);
  });
});
