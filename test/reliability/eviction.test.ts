// Eviction: under allkeys-lru and volatile-lru, with epoch keys evicted at random, no old session ever comes back.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Context } from 'koa';
import { userTag } from '../../lib/core/keys.js';
import { stateOf } from '../../lib/core/state.js';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import {
  BASE_SEED,
  CookieJar,
  countErrors,
  HttpClient,
  handleOf,
  issuedValue,
  type Listening,
  listen,
  Prng,
  RECOMMENDED_REDIS_OPTIONS,
  record,
  scale,
  scanKeys,
  signedCookie,
  until,
} from '../support/reliability-kit.js';
import { installMutant, MUTANTS, type Mutant } from '../support/reliability-mutants.js';

/*
 * A private Redis with a small maxmemory, `maxmemory-samples 1` (the LRU approximation picks its
 * victims almost at random, epoch keys included) and keyspace events for evictions. Users with
 * several devices read, save, regenerate, log in and sign out others, one request at a time,
 * while filler keys push memory over the limit. On top of what Redis evicts, the test deletes a
 * random user's epoch key now and then, as if eviction had picked exactly that key.
 *
 * Each response tells which epoch the session was loaded under (from the request's store state).
 * Requests are serialized, so observations are ordered, and these must hold:
 * - an epoch, once replaced, is never seen again (a lost epoch key never brings sessions back);
 * - a cookie is only ever served under the epoch it was first served under;
 * - a cookie once answered as anonymous is never served again;
 * - no response names another user; nothing answers 5xx.
 * At the end every dead cookie is presented again, and every key but the ballast has a TTL.
 */

const STEPS = scale(3_000, 30_000, 'KES_EVICTION_STEPS');
const USERS = 60;

interface Device {
  jar: CookieJar;
}

interface UserState {
  id: string;
  devices: Device[];
  current: string | undefined;
  retired: Set<string>;
}

const stepRoute = async (ctx: Context, t: TestApp) => {
  const state = stateOf(ctx);
  ctx.state.loadedUser = t.sessions.userId(ctx) ?? null;
  ctx.state.loadedEpoch = state.current?.epoch ?? null;
  switch (ctx.query.kind) {
    case 'save':
      ctx.session!.n = Number(ctx.query.n);
      break;
    case 'regenerate':
      await ctx.session!.regenerate();
      break;
    case 'login':
      ctx.state.login = await t.sessions.login(ctx, String(ctx.query.user));
      break;
    case 'logoutOthers':
      ctx.state.kept = t.sessions.userId(ctx) === undefined ? null : await t.sessions.logoutOthers(ctx);
      break;
    default:
  }
  ctx.state.epochAfter = state.current?.epoch ?? null;
};

async function evictionRun(
  policy: 'allkeys-lru' | 'volatile-lru',
  seed: number,
  steps = STEPS,
  mutant?: Mutant,
) {
  const server: RedisServer = await startRedisServer({
    args: ['--maxmemory-policy', policy, '--maxmemory-samples', '1', '--notify-keyspace-events', 'Ee'],
  });
  const client = new Redis(server.url, { ...RECOMMENDED_REDIS_OPTIONS });
  const admin = new Redis(server.url);
  const events = new Redis(server.url);
  countErrors(client);
  let listening: Listening | undefined;
  let http: HttpClient | undefined;
  try {
    await until('the clients are ready', async () => client.status === 'ready' && admin.status === 'ready');
    const evicted: Record<string, number> = {};
    await events.subscribe('__keyevent@0__:evicted');
    events.on('message', (_channel: string, key: string) => {
      const kind = key.startsWith('filler')
        ? 'filler'
        : key.endsWith('}:e')
          ? 'epoch'
          : key.endsWith('}:r') || key.endsWith('}:d')
            ? 'registry'
            : /\}:x/.test(key)
              ? 'reason'
              : key.startsWith('sess:a:')
                ? 'anonymous'
                : 'session';
      evicted[kind] = (evicted[kind] ?? 0) + 1;
    });

    const t = makeApp({ redis: client, registry: true }, { 'POST /step': stepRoute });
    if (mutant) installMutant(client, mutant);
    listening = await listen(t.app);
    http = new HttpClient(listening.port, 4);
    const rng = new Prng(seed);
    const users: UserState[] = Array.from({ length: USERS }, (_, i) => ({
      id: `ev-${policy}-${i}`,
      devices: [],
      current: undefined,
      retired: new Set(),
    }));
    const boundEpoch = new Map<string, string>();
    const dead = new Set<string>();
    const violations: string[] = [];
    const counts = {
      requests: 0,
      unavailable: 0,
      epochsDeleted: 0,
      orphansFailedClosed: 0,
      resurrections: 0,
    };

    function observeEpoch(user: UserState, epoch: string, why: string): void {
      if (user.retired.has(epoch)) violations.push(`${user.id}: retired epoch ${epoch} came back (${why})`);
      if (user.current !== undefined && user.current !== epoch) user.retired.add(user.current);
      user.current = epoch;
    }

    async function step(user: UserState, device: Device, kind: string): Promise<void> {
      const presented = device.jar.sid;
      const reply = await http!.send(
        'POST',
        `/step?kind=${kind}&user=${user.id}&n=${counts.requests}`,
        device.jar.header(),
      );
      counts.requests += 1;
      if (reply.status === 503) {
        counts.unavailable += 1;
        return;
      }
      if (reply.status !== 200) {
        violations.push(`${kind} answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 200)}`);
        return;
      }
      device.jar.absorb(reply.setCookie);
      const body = reply.body;
      for (const who of [body.loadedUser, body.userId]) {
        if (who !== null && who !== user.id) violations.push(`${user.id} was served ${who}`);
      }
      const handle = handleOf(presented);
      if (presented !== undefined && handle !== undefined && presented.includes('.')) {
        if (body.loadedUser === null) {
          dead.add(presented);
        } else {
          if (dead.has(presented)) {
            counts.resurrections += 1;
            violations.push(`${user.id}: a dead cookie was served again`);
          }
          const bound = boundEpoch.get(presented);
          if (bound !== undefined && bound !== body.loadedEpoch) {
            violations.push(`${user.id}: a cookie moved from epoch ${bound} to ${body.loadedEpoch}`);
          }
          observeEpoch(user, body.loadedEpoch, `${kind} loaded it`);
        }
      }
      const issued = issuedValue(reply.setCookie);
      if (issued !== undefined && body.epochAfter !== null && body.userId === user.id) {
        boundEpoch.set(issued, body.epochAfter);
        observeEpoch(user, body.epochAfter, `${kind} issued it`);
      }
    }

    // Sign everyone in on two devices.
    for (const user of users) {
      for (let d = 0; d < 2; d++) {
        const device = { jar: new CookieJar() };
        user.devices.push(device);
        await step(user, device, 'login');
      }
    }

    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    const limit = used + 1_500_000;
    await admin.config('SET', 'maxmemory', String(limit));
    const filler = 'f'.repeat(1_000);
    let fillerKeys = 0;
    if (policy === 'volatile-lru') {
      // Ballast without a TTL: volatile-lru cannot evict it, so the session keys go first.
      const pipeline = admin.pipeline();
      for (let i = 0; i < 600; i++) pipeline.set(`filler:ballast:${i}`, filler);
      await pipeline.exec();
    }

    for (let i = 0; i < steps; i++) {
      const user = rng.pick(users);
      const roll = rng.next();
      if (roll < 0.03) {
        // As if eviction had picked this user's epoch key.
        counts.epochsDeleted += await admin.del(`sess:{${userTag(user.id)}}:e`);
        continue;
      }
      if (roll < 0.05) {
        const device = { jar: new CookieJar() };
        user.devices.push(device);
        await step(user, device, 'login');
        continue;
      }
      if (i % 10 === 0) {
        const pipeline = admin.pipeline();
        for (let k = 0; k < 30; k++) pipeline.set(`filler:${fillerKeys++}`, filler, 'EX', 600);
        await pipeline.exec();
      }
      const device = rng.pick(user.devices);
      const kind = rng.pick(['read', 'read', 'save', 'save', 'regenerate', 'logoutOthers', 'login']);
      await step(user, device, kind);
    }

    // Every cookie that died is presented again by a fresh browser; orphans (a session key whose
    // epoch is gone) are counted, each of them failed closed.
    for (const value of dead) {
      const reply = await http.send('POST', '/step?kind=read', signedCookie(value));
      if (reply.body?.loadedUser !== null) violations.push(`a dead cookie signs in at the end`);
      const epoch = boundEpoch.get(value);
      const tag = value.slice(0, value.indexOf('.'));
      if (epoch !== undefined && (await admin.exists(`sess:{${tag}}:${epoch}:${handleOf(value)}`)) === 1) {
        counts.orphansFailedClosed += 1;
      }
    }
    const keys = (await scanKeys(admin, '*')).filter((key) => !key.startsWith('filler:ballast:'));
    const pipeline = admin.pipeline();
    for (const key of keys) pipeline.pttl(key);
    const ttls = ((await pipeline.exec()) ?? []).map(([, ttl]) => Number(ttl));
    const noTtl = keys.filter((_, i) => ttls[i] === -1);
    const stats = await admin.info('stats');
    return {
      figures: {
        policy,
        seed,
        steps,
        requests: counts.requests,
        status503: counts.unavailable,
        keysEvicted: Number(/evicted_keys:(\d+)/.exec(stats)![1]),
        epochKeysEvicted: evicted.epoch ?? 0,
        sessionKeysEvicted: evicted.session ?? 0,
        registriesEvicted: evicted.registry ?? 0,
        epochKeysDeletedByTest: counts.epochsDeleted,
        deadCookies: dead.size,
        orphansFailedClosed: counts.orphansFailedClosed,
        resurrections: counts.resurrections,
        violations: violations.length,
      },
      violations,
      noTtl,
    };
  } finally {
    http?.close();
    await listening?.close();
    client.disconnect();
    admin.disconnect();
    events.disconnect();
    await server.stop();
  }
}

describe('eviction: epoch keys evicted at random never bring old sessions back (invariant 3)', function () {
  this.timeout(120_000);
  afterEach(closeClients);

  for (const [i, policy] of (['allkeys-lru', 'volatile-lru'] as const).entries()) {
    it(`${policy}: ${STEPS} steps, epochs and sessions evicted, no resurrection, no foreign session`, async () => {
      const run = await evictionRun(policy, BASE_SEED + 100 + i);
      record(`eviction ${policy}`, run.figures);
      expect(run.violations.slice(0, 10)).to.deep.equal([]);
      expect(run.noTtl, 'keys the library wrote without a TTL').to.deep.equal([]);
      expect(run.figures.epochKeysEvicted, 'Redis itself evicted epoch keys').to.be.greaterThan(0);
      expect(run.figures.deadCookies, 'sessions died and were tried again').to.be.greaterThan(50);
      expect(
        run.figures.orphansFailedClosed,
        'sessions outlived their epoch and failed closed',
      ).to.be.greaterThan(0);
    });
  }

  it(`catches a broken store (mutant: ${MUTANTS.predictableEpoch.name})`, async () => {
    const run = await evictionRun('allkeys-lru', BASE_SEED + 100, 1_000, MUTANTS.predictableEpoch);
    record('eviction mutant', { steps: run.figures.steps, violations: run.figures.violations });
    expect(run.figures.violations).to.be.greaterThan(0);
  });
});
