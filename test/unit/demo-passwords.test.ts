// The demo's password hashes: scrypt at OWASP's cost, really computed at that cost, and only the right password verifies.
import { scryptSync, timingSafeEqual } from 'node:crypto';
import { expect } from 'chai';
import { decoyHash, hashPassword, SCRYPT_COST, verifyPassword } from '../../demo/passwords.js';

/** The fields of `scrypt$N$r$p$salt$hash`. */
function fields(stored: string) {
  const [scheme, N, r, p, salt, hash] = stored.split('$');
  return {
    scheme,
    N: Number(N),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt!, 'base64url'),
    hash: Buffer.from(hash!, 'base64url'),
  };
}

describe('demo passwords (scrypt, unit)', () => {
  let stored: string;
  before(async function () {
    this.timeout(30_000);
    stored = await hashPassword('correct horse battery staple');
  });

  it("writes OWASP's scrypt cost: N = 2^17, r = 8, p = 1, a 16-byte salt and a 32-byte key", () => {
    expect(SCRYPT_COST).to.deep.equal({ N: 2 ** 17, r: 8, p: 1 });
    const f = fields(stored);
    expect(f).to.include({ scheme: 'scrypt', N: 131_072, r: 8, p: 1 });
    expect(f.salt).to.have.length(16);
    expect(f.hash).to.have.length(32);
  });

  it('computes the key at the cost it writes (recomputed here with node:crypto)', () => {
    // A hash written as N=2^17 but derived at a lower N would not match this recomputation.
    const f = fields(stored);
    const again = scryptSync('correct horse battery staple', f.salt, 32, {
      N: f.N,
      r: f.r,
      p: f.p,
      maxmem: 256 * 1024 * 1024,
    });
    expect(timingSafeEqual(again, f.hash)).to.equal(true);
  });

  it('verifies the right password and refuses a wrong one', async function () {
    this.timeout(30_000);
    expect(await verifyPassword('correct horse battery staple', stored)).to.equal(true);
    expect(await verifyPassword('correct horse battery stapler', stored)).to.equal(false);
    expect(await verifyPassword('', stored)).to.equal(false);
  });

  it('gives two hashes of one password different salts', async function () {
    this.timeout(30_000);
    const other = await hashPassword('correct horse battery staple');
    expect(fields(other).salt.equals(fields(stored).salt)).to.equal(false);
    expect(other).to.not.equal(stored);
  });

  it('still verifies a hash written at the old, lower cost (N = 2^14)', async () => {
    const salt = Buffer.from('0123456789abcdef');
    const key = scryptSync('wonderland', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const old = ['scrypt', 2 ** 14, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
    expect(await verifyPassword('wonderland', old)).to.equal(true);
    expect(await verifyPassword('wonderlend', old)).to.equal(false);
  });

  it('refuses, without hashing, a stored string costlier than it writes or not one of its hashes', async () => {
    const [, , , , salt, hash] = stored.split('$');
    const forged = [
      `scrypt$${2 ** 30}$8$1$${salt}$${hash}`, // 128 GiB per attempt
      `scrypt$${2 ** 17}$64$1$${salt}$${hash}`,
      `scrypt$${2 ** 17}$8$16$${salt}$${hash}`,
      `scrypt$131071$8$1$${salt}$${hash}`, // N not a power of two
      `scrypt$${2 ** 17}$8$1$${salt}$${hash!.slice(0, 10)}`, // short key
      `bcrypt$${2 ** 17}$8$1$${salt}$${hash}`,
      'scrypt$$$$$',
      '',
      'not a hash',
    ];
    const started = performance.now();
    for (const value of forged) {
      expect(await verifyPassword('correct horse battery staple', value), value).to.equal(false);
    }
    // One real verification takes hundreds of milliseconds; refusing all of these takes none.
    expect(performance.now() - started).to.be.below(100);
  });

  it('has a decoy hash at the same cost, so an unknown name costs what a wrong password does', async function () {
    this.timeout(30_000);
    const decoy = await decoyHash();
    expect(fields(decoy)).to.include({
      scheme: 'scrypt',
      N: SCRYPT_COST.N,
      r: SCRYPT_COST.r,
      p: SCRYPT_COST.p,
    });
    expect(await decoyHash()).to.equal(decoy);
  });
});
