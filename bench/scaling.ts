// Sign-out-everywhere: rotate against SCAN+UNLINK and per-user SET / sorted-set indexes, in a crowded Redis.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import Koa from 'koa';
import {
  externalKey,
  freshEpochValue,
  KeyLayout,
  newSid,
  RANDOM_LENGTH,
  sessionHandle,
  userTag,
} from '../lib/core/keys.js';
import { deviceRecord, encodeHeader, encodeValue } from '../lib/core/value.js';
import { createSessions } from '../lib/index.js';
import { APP_KEYS, MAX_AGE, SESSION_DATA, USER_AGENT } from './fixtures.js';
import { privateRedis } from './processes.js';
import { commandStats, countRoundTrips, parseInfo } from './redis-info.js';
import { median } from './stats.js';

export type Approach = 'rotate' | 'rotate-off' | 'scan' | 'set' | 'zset';

export const APPROACHES: Record<Approach, { label: string; commands: string[] }> = {
  rotate: { label: 'rotate (this store, registry on)', commands: ['evalsha', 'eval'] },
  'rotate-off': { label: 'rotate (this store, registry off)', commands: ['evalsha', 'eval'] },
  scan: { label: 'SCAN MATCH + UNLINK', commands: ['scan', 'unlink'] },
  set: { label: 'per-user SET index', commands: ['smembers', 'unlink'] },
  zset: { label: 'per-user sorted-set index', commands: ['zrange', 'unlink'] },
};

export interface ScalingPlan {
  /** Keys of other users, with TTLs, that share the Redis (plus the largest size less this size). */
  background: number;
  /** Sessions of the user being signed out everywhere. */
  sizes: number[];
  rounds: number;
  /** SCAN's COUNT hint. */
  scanCount: number;
}

export interface ScalingPoint {
  approach: Approach;
  sessions: number;
  /** Wall time seen by the client, per round, ms. */
  times: number[];
  /** Redis CPU of the approach's own commands (INFO commandstats usec), per round, µs. */
  redisMicros: number[];
  roundTrips: number[];
  ms: number;
  redisUs: number;
  trips: number;
}

export interface ScalingResult {
  plan: ScalingPlan;
  points: ScalingPoint[];
}

const USER_ID = 'victim@example.com';
const CLASSIC_PREFIX = `sess:${USER_ID}:`;
const CHUNK = 10_000;
const DAY_MS = 86_400_000;

/** Fills the keyspace inside Redis (one script per 100,000 keys): other users' sessions, TTLs of 1 to 24 h. */
const FILL = `
local value = ARGV[3]
for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
  redis.call('SET', 'sess:user' .. (i % 250000) .. ':' .. string.format('%032x', i), value,
    'PX', 3600000 + (i * 7919) % 82800000)
end
return 1`;

/**
 * Writes session keys named `prefix + name`, and the user's index: a SET or sorted set of key
 * names, or this store's registry (a sorted set of handles). Pipelined commands, not a script:
 * a setup script would leave garbage in Redis's Lua heap that the measured script then collects.
 */
async function writeSessions(
  redis: Redis,
  prefix: string,
  names: string[],
  value: string,
  index: { key: string; kind: 'set' | 'zset' | 'registry' } | undefined,
): Promise<void> {
  const score = Date.now() + DAY_MS;
  await inChunks(names, async (chunk) => {
    const pipeline = redis.pipeline();
    for (const name of chunk) pipeline.set(prefix + name, value, 'PX', DAY_MS);
    if (index?.kind === 'set') pipeline.sadd(index.key, ...chunk.map((name) => prefix + name));
    if (index?.kind === 'zset') pipeline.zadd(index.key, ...chunk.flatMap((name) => [score, prefix + name]));
    if (index?.kind === 'registry') pipeline.zadd(index.key, ...chunk.flatMap((name) => [score, name]));
    if (index) pipeline.pexpire(index.key, DAY_MS);
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0];
  });
}

async function inChunks(names: string[], write: (chunk: string[]) => Promise<unknown>) {
  for (let i = 0; i < names.length; i += CHUNK) await write(names.slice(i, i + CHUNK));
}

/**
 * Waits (bounded) until Redis has no lazyfree work pending and its keyspace tables are not being
 * rehashed. Writing and unlinking 100,000 sessions resizes the tables, and while they rehash every
 * command that touches them moves buckets too: that cost belongs to the setup, not to the
 * measured command. No idle pause beyond that: an idle Redis answers its next command slower.
 */
async function settle(redis: Redis): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const info = parseInfo(await redis.info('memory'));
    const pending = Number(info.get('lazyfree_pending_objects') ?? 0) > 0;
    const rehashing = String(await redis.call('DEBUG', 'HTSTATS', '0')).includes('rehashing target');
    if (!pending && !rehashing) break;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Keys of other users at this size: `background` plus the largest size, less this user's sessions. */
export function otherKeys(plan: ScalingPlan, size: number): number {
  return plan.background + Math.max(...plan.sizes) - size;
}

export async function runScaling(plan: ScalingPlan, log: (line: string) => void): Promise<ScalingResult> {
  const points: ScalingPoint[] = [];
  for (const size of plan.sizes) {
    // DEBUG HTSTATS (settle) needs the debug command, from loopback only.
    const server = await privateRedis(['--enable-debug-command', 'local']);
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    // The measured client: its commands are counted, one per round trip.
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      // The same keyspace at every size (other keys + the user's sessions): Redis commands cost more
      // in a larger keyspace, and that must not pass for growth with the user's sessions.
      const others = otherKeys(plan, size);
      log(`scaling: ${others.toLocaleString('en')} other keys, ${size.toLocaleString('en')} sessions`);
      for (let from = 1; from <= others; from += 100_000) {
        const to = Math.min(from + 99_999, others);
        await admin.eval(FILL, 0, from, to, JSON.stringify({ ...SESSION_DATA, uid: `user${from}` }));
      }
      const baseline = await admin.dbsize();
      const trips = countRoundTrips(client);
      const app = new Koa();
      app.keys = APP_KEYS;
      const withRegistry = createSessions(app, { redis: client, registry: true, maxAge: MAX_AGE });
      const withoutRegistry = createSessions(app, { redis: client, registry: false, maxAge: MAX_AGE });
      const layout = new KeyLayout(withRegistry.store.settings.prefix);
      const tag = userTag(USER_ID);
      // Loads the script (EVALSHA, NOSCRIPT, EVAL) before anything is timed; a user with no epoch writes nothing.
      await withRegistry.rotate('warm-up');

      const byApproach = new Map<Approach, ScalingPoint>();
      const approaches = Object.keys(APPROACHES) as Approach[];
      for (let round = 0; round < plan.rounds; round++) {
        for (let k = 0; k < approaches.length; k++) {
          const approach = approaches[(round + k) % approaches.length]!;
          const value = JSON.stringify({ ...SESSION_DATA, uid: USER_ID, _expire: Date.now() + DAY_MS });
          let cleanup: string[] = [];
          let revoke: () => Promise<void>;
          let check: (() => Promise<boolean>) | undefined;

          if (approach === 'rotate' || approach === 'rotate-off') {
            // The store's own layout: epoch key, N sessions under it and, with the registry, a
            // sorted set of N handles and the user's device hash.
            const registry = approach === 'rotate';
            const sessions = registry ? withRegistry : withoutRegistry;
            const epochValue = freshEpochValue(tag, USER_ID);
            const epoch = epochValue.slice(0, RANDOM_LENGTH);
            const sid = newSid(Date.now());
            const handles = [sessionHandle(sid)];
            while (handles.length < size) handles.push(sessionHandle(newSid(Date.now())));
            const device = { createdAt: Date.now(), ip: '203.0.113.7', userAgent: USER_AGENT };
            const stored = encodeValue(
              Date.now() + DAY_MS,
              encodeHeader(registry ? device : undefined, Date.now()),
              JSON.stringify({ ...SESSION_DATA, _maxAge: MAX_AGE }),
            );
            await admin.set(layout.epoch(tag), epochValue, 'PX', DAY_MS);
            if (registry) {
              const record = deviceRecord(device);
              await admin.hset(layout.devices(tag), record.ref, record.value);
              await admin.pexpire(layout.devices(tag), DAY_MS);
            }
            const base = `${layout.userBase(tag)}${epoch}:`;
            await writeSessions(
              admin,
              base,
              handles,
              stored,
              registry ? { key: layout.registry(tag), kind: 'registry' } : undefined,
            );
            // The real read path must see the session before, and must not after.
            const cookie = externalKey(tag, epoch, sid);
            if ((await sessions.store.get(cookie)) === undefined)
              throw new Error('bench: scaling setup is not readable by the store');
            check = async () => (await sessions.store.get(cookie)) === undefined;
            cleanup = [...handles.map((h) => base + h), layout.rotationReason(tag)];
            revoke = async () => {
              await sessions.rotate(USER_ID);
            };
          } else {
            const keys = Array.from({ length: size }, () => randomUUID());
            const index = approach === 'scan' ? '' : `${CLASSIC_PREFIX}index`;
            await writeSessions(
              admin,
              CLASSIC_PREFIX,
              keys,
              value,
              approach === 'set' || approach === 'zset' ? { key: index, kind: approach } : undefined,
            );
            cleanup = [...keys.map((key) => CLASSIC_PREFIX + key), ...(index ? [index] : [])];
            check = async () => {
              let alive = 0;
              await inChunks(cleanup, async (chunk) => {
                alive += await admin.exists(...chunk);
              });
              return alive === 0;
            };
            if (approach === 'scan') {
              revoke = async () => {
                let cursor = '0';
                // Bounded: SCAN visits every key once; more calls than keys would be a bug.
                for (let calls = 0; calls <= baseline + size; calls++) {
                  const [next, found] = await client.scan(
                    cursor,
                    'MATCH',
                    `${CLASSIC_PREFIX}*`,
                    'COUNT',
                    plan.scanCount,
                  );
                  if (found.length > 0) await client.unlink(...found);
                  cursor = next;
                  if (cursor === '0') return;
                }
                throw new Error('bench: SCAN did not finish');
              };
            } else {
              revoke = async () => {
                const members =
                  approach === 'set' ? await client.smembers(index) : await client.zrange(index, '0', '-1');
                await client.unlink(...members, index);
              };
            }
          }

          // The fill script's garbage is collected now, not inside the measured command, and what
          // the previous approach handed to the lazyfree thread is freed before the clock starts.
          await admin.eval("collectgarbage('collect') return 1", 0);
          await settle(admin);
          // A no-op rotate (a user with no epoch) absorbs what the setup burst left to the allocator
          // and the Lua VM, so the measured call pays only for itself.
          await withRegistry.rotate('settle');
          await admin.config('RESETSTAT');
          trips.reset();
          const started = now();
          await revoke();
          const elapsed = now() - started;
          const roundTrips = trips.count();
          const stats = await commandStats(admin);
          const micros = APPROACHES[approach].commands.reduce((sum, c) => sum + (stats[c]?.usec ?? 0), 0);

          if (check && !(await check())) throw new Error(`bench: ${approach} left a session readable`);
          await inChunks(cleanup, (chunk) => admin.unlink(...chunk));
          await admin.del(layout.epoch(tag), layout.registry(tag), layout.devices(tag));
          const left = await admin.dbsize();
          if (left !== baseline) throw new Error(`bench: ${approach} left ${left - baseline} keys behind`);

          let point = byApproach.get(approach);
          if (!point) {
            point = {
              approach,
              sessions: size,
              times: [],
              redisMicros: [],
              roundTrips: [],
              ms: 0,
              redisUs: 0,
              trips: 0,
            };
            byApproach.set(approach, point);
          }
          point.times.push(elapsed);
          point.redisMicros.push(micros);
          point.roundTrips.push(roundTrips);
        }
      }
      for (const approach of approaches) {
        const point = byApproach.get(approach)!;
        point.ms = median(point.times);
        point.redisUs = median(point.redisMicros);
        point.trips = median(point.roundTrips);
        points.push(point);
      }
    } finally {
      client.disconnect();
      admin.disconnect();
      await server.stop();
    }
  }
  return { plan, points };
}
