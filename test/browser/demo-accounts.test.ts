// The demo's accounts: stored with OWASP-cost Argon2id hashes, hashed once per process however often they are seeded.
import { expect } from 'chai';
import { Accounts } from '../../demo/accounts.js';
import { ARGON2_COST } from '../../demo/passwords.js';
import { closeClients, newRedis } from '../support/app.js';

describe('demo accounts', () => {
  afterEach(closeClients);

  it('stores Argon2id hashes at the cost passwords.ts claims, and verifies only the right password', async function () {
    this.timeout(30_000);
    const redis = newRedis();
    const accounts = new Accounts(redis);
    await accounts.seed();
    const stored = JSON.parse((await redis.get('demo:account:alice'))!) as { password: string };
    const { memoryCost, timeCost, parallelism } = ARGON2_COST;
    expect(
      stored.password.startsWith(`$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$`),
    ).to.equal(true);
    expect(await accounts.verify('alice', 'wonderland')).to.include({ username: 'alice' });
    expect(await accounts.verify('alice', 'Wonderland')).to.equal(undefined);
    expect(await accounts.verify('mallory', 'wonderland')).to.equal(undefined);
  });

  it('reuses the first hashes when another demo app in the process seeds again', async function () {
    this.timeout(30_000);
    const first = new Accounts(newRedis(), 'demo:account:first:');
    const second = new Accounts(newRedis(), 'demo:account:second:');
    await first.seed();
    await second.seed();
    const redis = newRedis();
    const a = JSON.parse((await redis.get('demo:account:first:bob'))!) as { password: string };
    const b = JSON.parse((await redis.get('demo:account:second:bob'))!) as { password: string };
    expect(b.password).to.equal(a.password, 'the same salt and hash: hashed once');
  });
});
