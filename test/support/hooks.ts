// Root hooks: one private redis-server for the whole suite (REDIS_URL overrides), flushed after every test.
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from './redis-server.js';

let server: RedisServer | undefined;
let admin: Redis | undefined;

/** Keys found without a TTL after a test, by test title; asserted empty by the last test file. */
export const keysWithoutTtl: string[] = [];
export const ttlAudit = { tests: 0, keysSeen: 0 };

export function testRedisUrl(): string {
  const url = process.env.KES_TEST_REDIS_URL;
  if (!url) throw new Error('the root hook has not started Redis yet');
  return url;
}

async function audit(title: string): Promise<void> {
  if (!admin) return;
  ttlAudit.tests += 1;
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    ttlAudit.keysSeen += keys.length;
    if (keys.length === 0) continue;
    const pipeline = admin.pipeline();
    for (const key of keys) pipeline.pttl(key);
    const ttls = (await pipeline.exec()) ?? [];
    ttls.forEach(([, ttl], i) => {
      if (ttl === -1) keysWithoutTtl.push(`${title}: ${keys[i]}`);
    });
  } while (cursor !== '0');
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(20_000);
    if (process.env.REDIS_URL) {
      process.env.KES_TEST_REDIS_URL = process.env.REDIS_URL;
    } else {
      server = await startRedisServer();
      process.env.KES_TEST_REDIS_URL = server.url;
    }
    admin = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    await admin.flushdb();
  },
  async afterEach(this: Mocha.Context) {
    // Invariant 4, checked after every test: nothing the library wrote may lack a TTL.
    await audit(this.currentTest?.fullTitle() ?? 'unknown test');
    await admin?.flushdb();
  },
  async afterAll() {
    admin?.disconnect();
    await server?.stop();
  },
};
