// Password hashing with node:crypto scrypt at OWASP's cost: `scrypt$N$r$p$salt$hash`, compared in constant time.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * OWASP Password Storage Cheat Sheet: scrypt with N=2^17 (128 MiB per hash), r=8, p=1, where
 * Argon2id is not at hand; node:crypto has no Argon2 before Node 24, and scrypt needs no dependency.
 */
export const SCRYPT_COST: Readonly<{ N: number; r: number; p: number }> = Object.freeze({
  N: 2 ** 17,
  r: 8,
  p: 1,
});
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/**
 * scrypt needs 128·N·r bytes plus a little; Node refuses anything over `maxmem` (32 MiB by
 * default, below OWASP's cost), so each call allows what its own parameters need, and 1 MiB more.
 */
function memoryFor({ N, r }: { N: number; r: number }): number {
  return 128 * N * r + 1024 * 1024;
}

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: memoryFor(cost) };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, SCRYPT_COST);
  const { N, r, p } = SCRYPT_COST;
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/**
 * Parameters read back from storage, accepted up to the cost this module writes: a costlier
 * string was not written here, and an N of 2^30 would make one sign-in allocate 128 GiB.
 * Cheaper ones still verify, so hashes written before the cost was raised keep working.
 */
function storedCost(n: string, r: string, p: string): { N: number; r: number; p: number } | undefined {
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  const powerOfTwo = Number.isSafeInteger(cost.N) && cost.N > 1 && (cost.N & (cost.N - 1)) === 0;
  const inRange = (value: number, max: number) => Number.isSafeInteger(value) && value >= 1 && value <= max;
  return powerOfTwo &&
    cost.N <= SCRYPT_COST.N &&
    inRange(cost.r, SCRYPT_COST.r) &&
    inRange(cost.p, SCRYPT_COST.p)
    ? cost
    : undefined;
}

/** False for a wrong password and for anything that is not a hash this module wrote. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n = '', r = '', p = '', salt, hash] = stored.split('$');
  const cost = storedCost(n, r, p);
  if (scheme !== 'scrypt' || !cost || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  if (expected.length !== KEY_LENGTH) return false;
  const actual = await derive(password, Buffer.from(salt, 'base64url'), cost);
  return timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;

/** Verified against when the user does not exist, so an unknown name takes as long as a wrong password. */
export function decoyHash(): Promise<string> {
  if (!decoy) {
    decoy = hashPassword(randomBytes(16).toString('hex'));
    // Out of memory for one 128 MiB hash is no reason to fail every later sign-in: try again then.
    decoy.catch(() => {
      decoy = undefined;
    });
  }
  return decoy;
}
