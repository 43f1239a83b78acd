// Password hashing with Argon2id at OWASP's cost (@node-rs/argon2), in the PHC string format.
import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';

/** The package's `Algorithm.Argon2id`, a const enum that isolated modules cannot read. */
export const ARGON2ID = 2 as Algorithm;

/**
 * OWASP Password Storage Cheat Sheet, first choice: Argon2id with 19 MiB of memory, 2 passes and
 * one lane. About 40 ms per hash here, where scrypt at OWASP's cost took 600 ms and 128 MiB: sign-in
 * stays quick and a burst of sign-ins cannot exhaust memory. @node-rs/argon2 ships prebuilt
 * binaries in its npm packages (node:crypto has no Argon2 before Node 24).
 */
export const ARGON2_COST: Readonly<{ memoryCost: number; timeCost: number; parallelism: number }> =
  Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

export function hashPassword(password: string): Promise<string> {
  return hash(password.normalize('NFC'), { algorithm: ARGON2ID, ...ARGON2_COST });
}

/** `$argon2id$v=19$m=…,t=…,p=…$salt$hash`, with the three costs it names. */
const PHC = /^\$argon2id\$v=19\$m=(\d{1,9}),t=(\d{1,3}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{22,}$/;

/**
 * False for a wrong password and for anything that is not a hash this module could have written.
 * Costs read back from storage are accepted up to the ones it writes: a stored m of 4 GiB must not
 * make one sign-in allocate it.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = PHC.exec(stored);
  if (!match) return false;
  const [m, t, p] = match.slice(1).map(Number) as [number, number, number];
  if (
    m > ARGON2_COST.memoryCost ||
    t > ARGON2_COST.timeCost ||
    p > ARGON2_COST.parallelism ||
    t < 1 ||
    p < 1
  ) {
    return false;
  }
  try {
    return await verify(stored, password.normalize('NFC'));
  } catch {
    return false;
  }
}

let decoy: Promise<string> | undefined;

/** Verified against when the user does not exist, so an unknown name takes as long as a wrong password. */
export function decoyHash(): Promise<string> {
  if (!decoy) {
    decoy = hashPassword(randomBytes(16).toString('hex'));
    decoy.catch(() => {
      decoy = undefined;
    });
  }
  return decoy;
}
