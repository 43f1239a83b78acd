// The demo's password hashes: Argon2id at OWASP's cost, really computed at that cost, and only the right password verifies.

import { hashRaw } from '@node-rs/argon2';
import { expect } from 'chai';
import { ARGON2_COST, ARGON2ID, decoyHash, hashPassword, verifyPassword } from '../../demo/passwords.js';

/** The fields of `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (unpadded base64). */
function fields(stored: string) {
  const [, scheme, version, params, salt, hash] = stored.split('$');
  const [m, t, p] = params!.split(',').map((kv) => Number(kv.split('=')[1]));
  return {
    scheme,
    version,
    memoryCost: m,
    timeCost: t,
    parallelism: p,
    salt: Buffer.from(salt!, 'base64'),
    hash: Buffer.from(hash!, 'base64'),
  };
}

describe('demo passwords (Argon2id, unit)', () => {
  let stored: string;
  before(async () => {
    stored = await hashPassword('correct horse battery staple');
  });

  it("writes OWASP's Argon2id cost: 19 MiB, 2 passes, 1 lane, a 16-byte salt and a 32-byte hash", () => {
    expect(ARGON2_COST).to.deep.equal({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const f = fields(stored);
    expect(f).to.include({
      scheme: 'argon2id',
      version: 'v=19',
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
    });
    expect(f.salt).to.have.length(16);
    expect(f.hash).to.have.length(32);
  });

  it('computes the hash at the cost it writes (recomputed from the salt)', async () => {
    // A hash labelled m=19456,t=2 but derived at a lower cost would not match this recomputation.
    const f = fields(stored);
    const again = await hashRaw('correct horse battery staple', {
      algorithm: ARGON2ID,
      ...ARGON2_COST,
      salt: f.salt,
      outputLen: 32,
    });
    expect(again.equals(f.hash)).to.equal(true);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    expect(await verifyPassword('correct horse battery staple', stored)).to.equal(true);
    expect(await verifyPassword('correct horse battery stapler', stored)).to.equal(false);
    expect(await verifyPassword('', stored)).to.equal(false);
  });

  it('gives two hashes of one password different salts', async () => {
    const other = await hashPassword('correct horse battery staple');
    expect(fields(other).salt.equals(fields(stored).salt)).to.equal(false);
    expect(other).to.not.equal(stored);
  });

  it('refuses, without hashing, a stored string costlier than it writes or not one of its hashes', async () => {
    const [, , , , salt, hash] = stored.split('$');
    const forged = [
      `$argon2id$v=19$m=4194304,t=2,p=1$${salt}$${hash}`, // 4 GiB per attempt
      `$argon2id$v=19$m=19456,t=200,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=19456,t=2,p=64$${salt}$${hash}`,
      `$argon2i$v=19$m=19456,t=2,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash!.slice(0, 10)}`,
      '$argon2id$$$$',
      '',
      'not a hash',
    ];
    const started = performance.now();
    for (const value of forged) {
      expect(await verifyPassword('correct horse battery staple', value), value).to.equal(false);
    }
    // One real verification takes tens of milliseconds; refusing all of these takes almost none.
    expect(performance.now() - started).to.be.below(50);
  });

  it('has a decoy hash at the same cost, so an unknown name costs what a wrong password does', async () => {
    const decoy = await decoyHash();
    expect(fields(decoy)).to.include({ scheme: 'argon2id', ...ARGON2_COST });
    expect(await decoyHash()).to.equal(decoy);
  });
});
