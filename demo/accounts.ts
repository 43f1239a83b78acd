// Demo accounts: seeded at start-up, kept in Redis as JSON with a TTL like every key the demo writes.
import type { Redis } from 'ioredis';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';

export type Role = 'user' | 'admin';

export interface Account {
  username: string;
  name: string;
  role: Role;
}

interface StoredAccount extends Account {
  password: string;
}

export interface DemoAccount extends Account {
  /** Printed at start-up: these are demo credentials, not secrets. */
  password: string;
}

export const DEMO_ACCOUNTS: readonly DemoAccount[] = Object.freeze([
  { username: 'alice', name: 'Alice Liddell', role: 'user', password: 'wonderland' },
  { username: 'bob', name: 'Bob Builder', role: 'user', password: 'can-we-fix-it' },
  { username: 'admin', name: 'Ada Admin', role: 'admin', password: 'admin-demo' },
]);

/** Accounts outlive any session by far, and are re-seeded at every start-up anyway. */
const ACCOUNT_TTL = 7 * 24 * 3600_000;
const USERNAME = /^[a-z0-9_.-]{1,32}$/;

/**
 * Hashing is slow on purpose (Argon2id at OWASP's cost, about 40 ms and 19 MiB each): seeding again
 * in one process (every test's new demo app) reuses the first hashes of the printed passwords.
 */
const seedHashes = new Map<string, Promise<string>>();

function seedHash(password: string): Promise<string> {
  let hash = seedHashes.get(password);
  if (!hash) {
    hash = hashPassword(password);
    seedHashes.set(password, hash);
    // A failed hash is not cached: the next seed tries again.
    hash.catch(() => seedHashes.delete(password));
  }
  return hash;
}

export class Accounts {
  constructor(
    readonly redis: Redis,
    readonly prefix = 'demo:account:',
  ) {}

  #key(username: string): string {
    return this.prefix + username;
  }

  /** Writes the demo accounts, replacing earlier passwords, so the printed credentials always work. */
  async seed(accounts: readonly DemoAccount[] = DEMO_ACCOUNTS): Promise<void> {
    // All at once, on libuv's thread pool: start-up waits for the slowest hash, not their sum. The
    // decoy joins them so the first unknown name is not slower (twice the work) than the rest.
    const [hashes] = await Promise.all([Promise.all(accounts.map((a) => seedHash(a.password))), decoyHash()]);
    const multi = this.redis.multi();
    for (const [i, { password: _, ...account }] of accounts.entries()) {
      const stored: StoredAccount = { ...account, password: hashes[i]! };
      multi.set(this.#key(account.username), JSON.stringify(stored), 'PX', ACCOUNT_TTL);
    }
    await multi.exec();
  }

  async #read(username: string): Promise<StoredAccount | undefined> {
    if (!USERNAME.test(username)) return undefined;
    const json = await this.redis.get(this.#key(username));
    return json ? (JSON.parse(json) as StoredAccount) : undefined;
  }

  async get(username: string): Promise<Account | undefined> {
    const stored = await this.#read(username);
    return stored && { username: stored.username, name: stored.name, role: stored.role };
  }

  /** The account, if the password is right. Unknown names cost one hash too (no timing oracle). */
  async verify(username: string, password: string): Promise<Account | undefined> {
    const stored = await this.#read(username);
    const ok = await verifyPassword(password, stored?.password ?? (await decoyHash()));
    return ok && stored ? { username: stored.username, name: stored.name, role: stored.role } : undefined;
  }

  /** Replaces the password hash; `XX` so a password change never re-creates an expired account. */
  async setPassword(username: string, password: string): Promise<boolean> {
    const stored = await this.#read(username);
    if (!stored) return false;
    const next: StoredAccount = { ...stored, password: await hashPassword(password) };
    const written = await this.redis.set(this.#key(username), JSON.stringify(next), 'PX', ACCOUNT_TTL, 'XX');
    return written === 'OK';
  }

  /** Every account, for the admin page: the demo has no sign-up, so the seeded list is complete. */
  async all(): Promise<Account[]> {
    const found = await Promise.all(DEMO_ACCOUNTS.map((a) => this.get(a.username)));
    return found.filter((a): a is Account => a !== undefined);
  }
}
