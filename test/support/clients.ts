// The clients a test gets: ioredis by default, node-redis under KES_TEST_CLIENT=node-redis, each with an ioredis handle for inspection.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { createClient, createCluster } from 'redis';

/** Which client the store gets in this run: `KES_TEST_CLIENT=node-redis`, or ioredis. */
export const TEST_CLIENT: 'ioredis' | 'node-redis' =
  process.env.KES_TEST_CLIENT === 'node-redis' ? 'node-redis' : 'ioredis';

/** The ioredis client that inspects what a node-redis client's store wrote. */
const INSPECT = Symbol('koa-epoch-session tests: ioredis client for inspection');

/**
 * ioredis methods the functional tests call on a client from `newRedis()` that node-redis lacks
 * or spells otherwise (it has hSet, pExpire, ...). On a node-redis client they are added as own
 * properties that run on its ioredis twin. Never `defineCommand` or `evalsha`: those would make
 * the store take the client for ioredis.
 */
const INSPECTION_METHODS = ['hset', 'hget', 'pexpire', 'pttl', 'zadd', 'zcard', 'zrange', 'scan'] as const;

/** The ioredis handle for reading what the store wrote: the client itself, or a node-redis client's twin. */
export function inspectorOf(client: unknown): Redis {
  return ((client as { [INSPECT]?: Redis })[INSPECT] ?? client) as Redis;
}

/** The node-redis client and its ioredis twin, closed after each test (a shared cluster client is not). */
export interface Made {
  client: Redis;
  close: () => Promise<void>;
}

type NodeRedis = ReturnType<typeof createClient> | ReturnType<typeof createCluster>;

/**
 * node-redis cluster clients must finish `connect()` (slot discovery) before their first command,
 * and `newRedis()` is synchronous: so a cluster run shares one connected client per protocol,
 * made by the root hook. A standalone client queues commands while it connects: one per call.
 */
const sharedClusters = new Map<2 | 3, Redis>();

export async function openSharedClusters(nodes: { host: string; port: number }[]): Promise<void> {
  for (const protocol of [2, 3] as const) {
    const cluster = createCluster({
      rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
      RESP: protocol,
    });
    cluster.on('error', () => {}); // node errors are reported to the requests that meet them
    await cluster.connect();
    const inspect = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1, protocol } });
    sharedClusters.set(protocol, withInspection(cluster, inspect));
  }
}

export async function closeSharedClusters(): Promise<void> {
  for (const client of sharedClusters.values()) {
    inspectorOf(client).disconnect();
    await (client as unknown as NodeRedis).close().catch(() => {});
  }
  sharedClusters.clear();
}

/** A node-redis client of the suite's Redis (or cluster), speaking the protocol the ioredis options ask for. */
export function nodeRedisFor(
  options: RedisOptions,
  url: string,
  nodes: { host: string; port: number }[] | undefined,
): Made {
  const protocol = options.protocol === 3 ? 3 : 2;
  if (nodes) {
    const shared = sharedClusters.get(protocol);
    if (!shared) throw new Error('the root hook did not open the node-redis cluster clients');
    return { client: shared, close: async () => {} };
  }
  const client = createClient({ url, RESP: protocol });
  client.on('error', () => {}); // failures reach the requests as errors
  // Commands sent before the connection is ready wait in node-redis's offline queue.
  const connecting = client.connect().catch(() => {});
  const inspect = new Redis(url, { maxRetriesPerRequest: 1, ...options });
  return {
    client: withInspection(client, inspect),
    close: async () => {
      inspect.disconnect();
      await connecting;
      if (client.isOpen) await client.close().catch(() => client.destroy());
    },
  };
}

function withInspection(client: NodeRedis, inspect: Redis | Cluster): Redis {
  const target = client as unknown as Record<string | symbol, unknown>;
  target[INSPECT] = inspect;
  const twin = inspect as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of INSPECTION_METHODS) {
    if (typeof target[name] !== 'function') target[name] = twin[name]!.bind(inspect);
  }
  return client as unknown as Redis;
}
