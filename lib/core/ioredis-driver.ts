// The ioredis driver: native commands, the scripts through defineCommand, and WAIT in a pipeline after revocations.
import type { Cluster, Redis } from 'ioredis';
import type { RedisDriver, ReplicaAcknowledgement } from './driver.js';
import { SessionReplicationError } from './errors.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

type ScriptArg = string | number;

/** Commands are namespaced so that a client shared with other libraries sees no clash. */
const COMMAND_PREFIX = 'epochSession_';

type Command = (...args: ScriptArg[]) => Promise<unknown>;
type Pipeline = Record<string, Command> & {
  wait(replicas: number, timeout: number): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
};

/** An ioredis `Redis` (standalone or Sentinel) or `Cluster`, told apart from anything else by its API. */
export function isIoredis(client: unknown): client is Redis | Cluster {
  const candidate = client as { defineCommand?: unknown; evalsha?: unknown } | null;
  return typeof candidate?.defineCommand === 'function' && typeof candidate.evalsha === 'function';
}

/** An option of an ioredis client, or of the nodes of an ioredis Cluster. */
export function ioredisOption(client: Redis | Cluster, name: string): unknown {
  const options = client.options as Record<string, unknown> | undefined;
  const nodes = options?.redisOptions as Record<string, unknown> | undefined;
  return options?.[name] ?? nodes?.[name];
}

/**
 * Registers every script on the client through `defineCommand`, with the number of keys passed on
 * each call (some scripts take one key per registry entry): ioredis applies `keyPrefix` to KEYS,
 * routes a Cluster call by its keys, and turns NOSCRIPT into a transparent EVAL.
 */
export function ioredisDriver(redis: Redis | Cluster): RedisDriver {
  for (const [name, { lua }] of Object.entries(SCRIPTS)) {
    redis.defineCommand(COMMAND_PREFIX + name, { lua });
  }
  return {
    get: (key) => redis.get(key),
    mget: (keys) => redis.mget(keys),
    set: async (key, value, ttl, mode) =>
      (mode === 'NX'
        ? await redis.set(key, value, 'PX', ttl, 'NX')
        : await redis.set(key, value, 'PX', ttl, 'XX')) !== null,
    del: (key) => redis.del(key),
    extend: (key, ttl) => redis.pexpire(key, ttl, 'GT'),
    script(name, keys, args, acknowledgement) {
      const script: { keys: number; variadic?: boolean } = SCRIPTS[name];
      // A wrong count would silently shift KEYS into ARGV: refuse it loudly instead.
      if (script.variadic ? keys.length < script.keys : keys.length !== script.keys) {
        throw new Error(`koa-epoch-session: ${name} takes ${script.keys} keys, got ${keys.length}`);
      }
      const callArgs = [keys.length, ...keys, ...args];
      if (acknowledgement !== undefined) return runAcknowledged(redis, name, callArgs, acknowledgement);
      const command = (redis as unknown as Record<string, Command>)[COMMAND_PREFIX + name]!;
      return command.apply(redis, callArgs);
    },
  };
}

/**
 * WAIT cannot run inside a script, so it follows the script in one pipeline: a pipeline goes to
 * one connection, which on a Cluster is the master of the script's slot, and WAIT counts the
 * replicas that acknowledged that connection's writes so far. A retry of the same call therefore
 * waits again for this write too, even when the retry itself has nothing left to change.
 */
async function runAcknowledged(
  redis: Redis | Cluster,
  name: ScriptName,
  args: ScriptArg[],
  wanted: ReplicaAcknowledgement,
): Promise<unknown> {
  const pipeline = redis.pipeline() as unknown as Pipeline;
  pipeline[COMMAND_PREFIX + name]!(...args);
  pipeline.wait(wanted.replicas, wanted.timeout);
  const replies = await pipeline.exec();
  if (replies === null || replies.length !== 2) throw new Error(`the ${name} pipeline got no reply`);
  const [[scriptError, reply], [waitError, acknowledged]] = replies as [
    [Error | null, unknown],
    [Error | null, unknown],
  ];
  if (scriptError) throw scriptError;
  if (waitError) throw waitError;
  if (typeof acknowledged !== 'number' || acknowledged < wanted.replicas) {
    throw new SessionReplicationError(name, reply, Number(acknowledged) || 0, wanted);
  }
  return reply;
}
