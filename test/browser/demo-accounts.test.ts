// The demo's accounts: stored with OWASP-cost scrypt hashes, hashed once per process however often they are seeded.
import { expect } from 'chai';
import { Accounts } from '../../demo/accounts.js';
import { SCRYPT_COST } from '../../demo/passwords.js';
import { closeClients, newRedis } from '../support/app.js';

describe('demo accounts', () => {
  afterEach(closeClients);

  it('stores scrypt hashes at the cost passwords.ts claims, and verifies only the right password', async function () {
    this.timeout(30_000);
    const redis = newRedis();
    const accounts = new Accounts(redis);
    await accounts.seed();
    const stored = JSON.parse((await redis.get('demo:account:alice'))!) as { password: string };
    const { N, r, p } = SCRYPT_COST;
    expect(stored.password).to.match(new RegExp(`^scrypt\\$${N}\\$${r}\\$${p}\\$`));
    expect(await accounts.verify('alice', 'wonderland')).to.include({ username: 'alice' });
    expect(await accounts.verify('alice', 'Wonderland')).to.equal(undefined);
    expect(await accounts.verify('mallory', 'wonderland')).to.equal(undefined);
  });

  it('reuses the first hashes when another demo app in the process seeds again', async function () {
    this.timeout(30_000);
    const first = new Accounts(newRedis(), 'demo:account:first:');
    const second = new Accounts(newRedis(), 'demo:account:second:');
    await first.seed();
    const started = performance.now();
    await second.seed();
    // Re-hashing three passwords at N = 2^17 takes seconds; reusing them takes a Redis round trip.
    expect(performance.now() - started).to.be.below(500);
    const redis = newRedis();
    const a = JSON.parse((await redis.get('demo:account:first:bob'))!) as { password: string };
    const b = JSON.parse((await redis.get('demo:account:second:bob'))!) as { password: string };
    expect(b.password).to.equal(a.password, 'the same salt and hash: hashed once');
  });
});
