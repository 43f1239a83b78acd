// The few Redis operations the engine needs, behind one small interface, so it does not care which client the app uses.
import type { ScriptName } from './scripts.js';

/** `WAIT <replicas> <timeout>` after a script, on the connection that ran it. */
export interface ReplicaAcknowledgement {
  replicas: number;
  /** Milliseconds. */
  timeout: number;
}

/**
 * Everything the session engine sends to Redis. Replies are normalised: strings for values,
 * `null` for a missing key, integers for counts, arrays for script tables (Lua `false` is `null`).
 * Failures reject with the client's own error; lib/core/redis-call.ts maps them to the package's.
 */
export interface RedisDriver {
  get(key: string): Promise<string | null>;
  /** Atomic: one snapshot of every key (they share a slot). */
  mget(keys: string[]): Promise<(string | null)[]>;
  /** SET … PX ttl NX|XX; true if written. */
  set(key: string, value: string, ttl: number, mode: 'NX' | 'XX'): Promise<boolean>;
  del(key: string): Promise<number>;
  /** PEXPIRE … GT (Redis 7.0): never shortens. */
  extend(key: string, ttl: number): Promise<number>;
  /**
   * Runs one of lib/core/scripts.ts with every key in KEYS (EVALSHA, EVAL when the server lacks the
   * script). With `acknowledgement`, WAIT follows on the same connection; fewer replicas than
   * asked reject with SessionReplicationError carrying the script's reply.
   */
  script(
    name: ScriptName,
    keys: string[],
    args: (string | number)[],
    acknowledgement?: ReplicaAcknowledgement,
  ): Promise<unknown>;
}

/*
 * The clients the store accepts, described by shape alone: an app that uses ioredis compiles
 * without node-redis installed, and the other way round. Parameters are `never` on purpose: any
 * overload of the real method fits, and the drivers check the clients further at start-up.
 */

/** An ioredis `Redis` (standalone or Sentinel) or `Cluster`. */
export interface IoredisClient {
  defineCommand(name: string, definition: { lua: string }): void;
  evalsha(...args: never[]): unknown;
  pipeline(...args: never[]): unknown;
}

/** A node-redis (v5 or later) client from `createClient()`. */
export interface NodeRedisClient {
  sendCommand(args: never, options?: never): Promise<unknown>;
  withTypeMapping(typeMapping: never): unknown;
  multi(): unknown;
}

/** A node-redis (v5 or later) cluster client from `createCluster()`. */
export interface NodeRedisCluster {
  sendCommand(firstKey: never, isReadonly: never, args: never, options?: never): Promise<unknown>;
  nodeClient(node: never): unknown;
}

/** Any client the store can use: ioredis or node-redis, standalone or cluster. */
export type RedisClient = IoredisClient | NodeRedisClient | NodeRedisCluster;

/** A wrong key count would silently shift KEYS into ARGV: refuse it loudly instead. */
export function checkKeyCount(
  name: ScriptName,
  script: { keys: number; variadic?: boolean },
  count: number,
): void {
  if (script.variadic ? count < script.keys : count !== script.keys) {
    throw new Error(`koa-epoch-session: ${name} takes ${script.keys} keys, got ${count}`);
  }
}
