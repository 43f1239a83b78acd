// The whole keyspace and command stream of the suite's Redis: one server, or every master of a cluster.
import { Cluster, Redis } from 'ioredis';
import { inspectorOf } from './clients.js';

/**
 * The nodes that hold data: the client itself, or each master a Cluster client knows. A node-redis
 * client (KES_TEST_CLIENT=node-redis) is read through its ioredis twin.
 */
async function dataNodes(client: Redis | Cluster): Promise<Redis[]> {
  const redis = inspectorOf(client) as Redis | Cluster;
  if (!(redis instanceof Cluster)) return [redis];
  // A new Cluster client knows no node until it has loaded the slot map.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  return redis.nodes('master');
}

/** KEYS on every node: a Cluster client would otherwise ask one random node. */
export async function allKeys(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  const perNode = await Promise.all((await dataNodes(redis)).map((node) => node.keys(pattern)));
  return perNode.flat();
}

export interface SeenCommand {
  /** The command name, lower case. */
  name: string;
  args: string[];
  /** `lua` for a command a script ran, else the client's address. */
  source: string;
}

/**
 * MONITOR on every node, from fresh connections. `stop()` waits a moment for MONITOR to deliver
 * what it saw, then returns the commands in the order each node reported them.
 */
export async function watchCommands(redis: Redis | Cluster) {
  const seen: SeenCommand[] = [];
  const monitors = await Promise.all(
    (await dataNodes(redis)).map(async (node) => {
      // lazyConnect: only the connection `monitor()` opens may talk to the node; a second one's
      // ready-check INFO, arriving with MONITOR's +OK, fails ioredis ("Command queue state error").
      const monitor = await new Redis({ ...node.options, lazyConnect: true }).monitor();
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        seen.push({ name: args[0]!.toLowerCase(), args, source });
      });
      return monitor;
    }),
  );
  return {
    seen,
    async stop(): Promise<SeenCommand[]> {
      await new Promise((r) => setTimeout(r, 50));
      for (const monitor of monitors) monitor.disconnect();
      return seen;
    },
  };
}

/** INFO commandstats call counts, summed over every node. */
export async function commandStats(redis: Redis | Cluster): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const node of await dataNodes(redis)) {
    const info = await node.info('commandstats');
    for (const [, name, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      counts[name!] = (counts[name!] ?? 0) + Number(calls);
    }
  }
  return counts;
}

/** CONFIG RESETSTAT on every node. */
export async function resetStats(redis: Redis | Cluster): Promise<void> {
  await Promise.all((await dataNodes(redis)).map((node) => node.config('RESETSTAT')));
}
