// Root hooks: one private redis-server for the whole suite (REDIS_URL overrides), flushed after every test.
// Under KES_TEST_CLUSTER=1, a private 3-master Redis Cluster instead, for running suites on a Cluster client;
// KES_TEST_CLIENT=node-redis gives the store node-redis clients of either (test/support/clients.ts).
import { Redis } from 'ioredis';
import { closeSharedClusters, openSharedClusters, TEST_CLIENT } from './clients.js';
import { type LocalCluster, startCluster } from './cluster.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

let server: RedisServer | undefined;
let cluster: LocalCluster | undefined;
/** One connection per node holding data: the server, or every master of the cluster. */
let admins: Redis[] = [];

/** Keys found without a TTL after a test, by test title; asserted empty by the last test file. */
export const keysWithoutTtl: string[] = [];
export const ttlAudit = { tests: 0, keysSeen: 0 };

/** The cluster's nodes when the suite runs on a Cluster client (KES_TEST_CLUSTER=1), else undefined. */
export function testClusterNodes(): { host: string; port: number }[] | undefined {
  const nodes = process.env.KES_TEST_CLUSTER_NODES;
  return nodes ? JSON.parse(nodes) : undefined;
}

export function testRedisUrl(): string {
  const url = process.env.KES_TEST_REDIS_URL;
  if (!url) throw new Error('the root hook has not started Redis yet');
  return url;
}

async function audit(title: string): Promise<void> {
  ttlAudit.tests += 1;
  for (const admin of admins) await auditNode(admin, title);
}

async function auditNode(admin: Redis, title: string): Promise<void> {
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

async function connect(url: string): Promise<Redis> {
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  await admin.flushdb();
  return admin;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(30_000);
    if (process.env.KES_TEST_CLUSTER === '1') {
      cluster = await startCluster({ masters: 3, replicas: 0 });
      process.env.KES_TEST_CLUSTER_NODES = JSON.stringify(cluster.startupNodes);
      // Scripts and tests that build a URL still get one node; keys route through the Cluster client.
      process.env.KES_TEST_REDIS_URL = `redis://127.0.0.1:${cluster.nodes[0]!.port}`;
      admins = await Promise.all(cluster.nodes.map((n) => connect(`redis://127.0.0.1:${n.port}`)));
      if (TEST_CLIENT === 'node-redis') await openSharedClusters(cluster.startupNodes);
      return;
    }
    if (process.env.REDIS_URL) {
      process.env.KES_TEST_REDIS_URL = process.env.REDIS_URL;
    } else {
      server = await startRedisServer();
      process.env.KES_TEST_REDIS_URL = server.url;
    }
    admins = [await connect(testRedisUrl())];
  },
  async afterEach(this: Mocha.Context) {
    // Invariant 4, checked after every test: nothing the library wrote may lack a TTL.
    await audit(this.currentTest?.fullTitle() ?? 'unknown test');
    await Promise.all(admins.map((admin) => admin.flushdb()));
  },
  async afterAll() {
    await closeSharedClusters();
    for (const admin of admins) admin.disconnect();
    await server?.stop();
    await cluster?.stop();
  },
};
