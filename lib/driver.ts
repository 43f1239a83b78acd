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
 * Failures reject with the client's own error; lib/redis-call.ts maps them to the package's.
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
   * Runs one of lib/scripts.ts with every key in KEYS (EVALSHA, EVAL when the server lacks the
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
