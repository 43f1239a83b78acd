// The node-redis driver (v5 and later): createClient and createCluster, raw commands, EVALSHA with an EVAL fallback, WAIT on the script's connection.
import { createHash } from 'node:crypto';
import { checkKeyCount, type RedisDriver, type ReplicaAcknowledgement } from './driver.js';
import { SessionReplicationError } from './errors.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

/** What the driver uses of one node-redis connection: a `createClient()` client, or a cluster's node client. */
interface Connection {
  sendCommand(args: string[], options?: object): Promise<unknown>;
  withCommandOptions(options: object): Connection;
  multi(): Pipeline;
  /** The client's command options: v6 sets a `timeout` (5 s) by default. */
  readonly _commandOptions?: { timeout?: unknown };
}

interface Pipeline {
  addCommand(args: string[]): Pipeline;
  execAsPipeline(): Promise<unknown[]>;
}

/** What the driver uses of a `createCluster()` client: keyed commands, and the master of a slot. */
interface Cluster {
  readonly isOpen: boolean;
  readonly slots: ({ master: unknown } | undefined)[];
  sendCommand(firstKey: string, isReadonly: boolean, args: string[], options?: object): Promise<unknown>;
  nodeClient(node: unknown): Promise<Connection> | Connection;
}

export type NodeRedisKind = 'client' | 'cluster';

/**
 * Which node-redis client this is, told from its API alone: the app's copy of node-redis is not
 * ours, so `instanceof` cannot work. Undefined: not node-redis at all. A string: a node-redis
 * client the store cannot use, described for the start-up error.
 */
export function nodeRedisKind(client: unknown): NodeRedisKind | { unsupported: string } | undefined {
  const c = client as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object' || typeof c.sendCommand !== 'function') return undefined;
  if (typeof c.getMasterNode === 'function') {
    return {
      unsupported:
        'a node-redis Sentinel client (createSentinel), which the store does not support; use ioredis for Sentinel',
    };
  }
  if (typeof c.execute === 'function' && 'totalClients' in c) {
    return {
      unsupported:
        'a node-redis client pool (createClientPool), which hands each command to any of its connections, so WAIT ' +
        'could not follow a revocation on the connection that ran it; pass a client from createClient()',
    };
  }
  if (typeof c.nodeClient === 'function' && 'slots' in c) return 'cluster';
  if (typeof c.withTypeMapping === 'function' && typeof c.multi === 'function') return 'client';
  return {
    unsupported:
      "a node-redis client older than v5, or a client's legacy() interface; pass a node-redis v5 (or later) " +
      'client from createClient() or createCluster()',
  };
}

/**
 * Sent with every command: node-redis's default reply types, whatever the app mapped them to
 * (`withTypeMapping`, `commandOptions.typeMapping`), so that values stay strings, not Buffers, and
 * counts stay numbers. The app's other command options (a `timeout`, say) still apply.
 */
const NATIVE_TYPES = Object.freeze({});
const COMMAND_OPTIONS = Object.freeze({ typeMapping: NATIVE_TYPES });

/** The SHA1 of each script, computed once: EVALSHA sends it instead of the script. */
const SHA1 = new Map<ScriptName, string>();
function sha1(name: ScriptName): string {
  let digest = SHA1.get(name);
  if (digest === undefined) {
    digest = createHash('sha1').update(SCRIPTS[name].lua).digest('hex');
    SHA1.set(name, digest);
  }
  return digest;
}

export function nodeRedisDriver(client: unknown, kind: NodeRedisKind): RedisDriver {
  const cluster = client as Cluster;
  const connection = client as Connection;
  /** One command, routed by its first key on a cluster (node-redis follows MOVED and ASK there). */
  const send = (key: string, args: string[]): Promise<unknown> => {
    if (kind === 'client') return connection.sendCommand(args, COMMAND_OPTIONS);
    if (!cluster.isOpen) return Promise.reject(notConnected());
    return cluster.sendCommand(key, false, args, COMMAND_OPTIONS);
  };
  const evaluate = async (name: ScriptName, key: string, tail: string[]): Promise<unknown> => {
    try {
      return normalise(await send(key, ['EVALSHA', sha1(name), ...tail]));
    } catch (error) {
      if (!isNoScript(error)) throw error;
      // A restarted, flushed or failed-over server lacks the script: EVAL runs it and caches it.
      return normalise(await send(key, ['EVAL', SCRIPTS[name].lua, ...tail]));
    }
  };
  const acknowledged = async (
    name: ScriptName,
    key: string,
    tail: string[],
    wanted: ReplicaAcknowledgement,
  ): Promise<unknown> => {
    for (let attempt = 0; ; attempt++) {
      const target = kind === 'client' ? connection : await masterOf(cluster, key);
      try {
        return await runAcknowledged(target, name, tail, wanted);
      } catch (error) {
        if (kind === 'client' || attempt >= 2 || !isMoved(error)) throw error;
        // The slot moved and the script did not run. A keyed command through the cluster client
        // follows the MOVED and refreshes its slot map; then the pair goes to the new master.
        await send(key, ['PTTL', key]);
      }
    }
  };
  return {
    get: async (key) => asValue(await send(key, ['GET', key])),
    mget: async (keys) => {
      const reply = normalise(await send(keys[0]!, ['MGET', ...keys]));
      if (!Array.isArray(reply)) throw new TypeError(`koa-epoch-session: MGET answered ${typeof reply}`);
      return reply.map(asValue);
    },
    set: async (key, value, ttl, mode) =>
      normalise(await send(key, ['SET', key, value, 'PX', String(ttl), mode])) !== null,
    del: async (key) => normalise(await send(key, ['DEL', key])) as number,
    extend: async (key, ttl) => normalise(await send(key, ['PEXPIRE', key, String(ttl), 'GT'])) as number,
    script(name, keys, args, acknowledgement) {
      checkKeyCount(name, SCRIPTS[name], keys.length);
      // node-redis sends strings and Buffers only: numbers are written out here.
      const tail = [String(keys.length), ...keys, ...args.map(String)];
      return acknowledgement === undefined
        ? evaluate(name, keys[0]!, tail)
        : acknowledged(name, keys[0]!, tail, acknowledgement);
    },
  };
}

/**
 * WAIT cannot run inside a script (nor usefully inside MULTI, where it does not block), so it
 * follows the script in one pipeline on one connection: a standalone client has a single socket,
 * and a cluster's node client is the master of the script's slot. WAIT then counts the replicas
 * that acknowledged this connection's writes so far, the script's included.
 */
async function runAcknowledged(
  connection: Connection,
  name: ScriptName,
  tail: string[],
  wanted: ReplicaAcknowledgement,
): Promise<unknown> {
  const wait = ['WAIT', String(wanted.replicas), String(wanted.timeout)];
  // WAIT blocks for up to its own timeout: a client's command timeout (node-redis v6 sets 5 s)
  // gets that much more here, or a lagging replica would read as a dead connection.
  const timeout = connection._commandOptions?.timeout;
  const options = {
    typeMapping: NATIVE_TYPES,
    ...(typeof timeout === 'number' ? { timeout: timeout + wanted.timeout } : {}),
  };
  // EVAL, not EVALSHA: after a NOSCRIPT the WAIT that followed would already have blocked for its
  // whole timeout when replicas lag, and the retry would block again. Revocations are rare.
  const replies = await connection
    .withCommandOptions(options)
    .multi()
    .addCommand(['EVAL', SCRIPTS[name].lua, ...tail])
    .addCommand(wait)
    .execAsPipeline()
    .catch(firstError);
  if (replies.length !== 2) throw new Error(`koa-epoch-session: the ${name} pipeline got no reply`);
  const reply = normalise(replies[0]);
  const acknowledgedBy = normalise(replies[1]);
  if (typeof acknowledgedBy !== 'number' || acknowledgedBy < wanted.replicas) {
    throw new SessionReplicationError(name, reply, Number(acknowledgedBy) || 0, wanted);
  }
  return reply;
}

async function masterOf(cluster: Cluster, key: string): Promise<Connection> {
  if (!cluster.isOpen) throw notConnected();
  const shard = cluster.slots[keySlot(key)];
  if (shard === undefined)
    throw new Error(`koa-epoch-session: the node-redis cluster knows no master for a slot`);
  return cluster.nodeClient(shard.master);
}

function notConnected(): Error {
  return new Error('koa-epoch-session: the node-redis cluster client is not connected (await its connect())');
}

/**
 * The driver contract's types, from RESP2 and RESP3 alike. RESP3 turns a script's Lua `false`
 * into a boolean where RESP2 gives null, and `true` into a boolean where RESP2 gives 1.
 */
export function normalise(reply: unknown): unknown {
  if (reply === false) return null;
  if (reply === true) return 1;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  if (Array.isArray(reply)) return reply.map(normalise);
  return reply;
}

function asValue(reply: unknown): string | null {
  const value = normalise(reply);
  if (value === null || typeof value === 'string') return value;
  throw new TypeError(`koa-epoch-session: a value read from Redis was ${typeof value}, not a string`);
}

/** A pipeline rejects with the first error; a MULTI-style aggregate is unwrapped to the reply that failed. */
function firstError(error: unknown): never {
  const aggregate = error as { replies?: unknown[]; errorIndexes?: number[] } | null;
  const index = aggregate?.errorIndexes?.[0];
  throw index !== undefined && aggregate?.replies?.[index] ? aggregate.replies[index] : error;
}

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');
const isMoved = (error: unknown) => error instanceof Error && error.message.startsWith('MOVED ');

/** The Cluster slot of a key: CRC16 (XMODEM) of its hash tag, if it has one, modulo 16384. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf('{');
  if (open !== -1) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}
