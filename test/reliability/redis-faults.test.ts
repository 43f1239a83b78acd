// Redis faults under a bounded loopback load: kill and restart, pause and resume, maxmemory with and without eviction.
import { expect } from 'chai';
import { Redis, type RedisOptions } from 'ioredis';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import {
  countErrors,
  HttpClient,
  type Listening,
  listen,
  RECOMMENDED_REDIS_OPTIONS,
  record,
  scale,
  signedCookie,
  until,
} from '../support/reliability-kit.js';
import { Load } from '../support/reliability-load.js';

/*
 * Each test runs its own redis-server, an app on the recommended ioredis settings
 * (RECOMMENDED_REDIS_OPTIONS: commandTimeout 500 ms, no offline queue, one retry, fast reconnect),
 * and a fixed number of signed-in users looping over reads and writes (see reliability-load.ts).
 * The fault lasts until every user has seen it (a 503), so the outage is observed, not assumed,
 * and ends when the server answers PING again. Then every user must get a success, and
 * we measure how long that took.
 *
 * Asserted in every scenario: no 5xx other than the 503 SessionStoreUnavailableError, no client
 * error (the app always answered), no foreign session, no acknowledged write lost from a session
 * Redis kept, and no ended session ever signing in again. Sessions are only lost where Redis lost
 * them (no persistence, or eviction).
 */

const USERS = scale(12, 32, 'KES_FAULT_USERS');
const CYCLES = scale(1, 5, 'KES_FAULT_CYCLES');
/** Successful requests per user, after recovery, before a cycle counts as recovered. */
const SETTLE = scale(3, 50);
/** 503s each user must have seen before the fault is lifted. */
const HOLD = scale(2, 10);

interface Harness {
  server: RedisServer;
  client: Redis;
  admin: Redis;
  t: TestApp;
  load: Load;
  http: HttpClient;
  listening: Listening;
  clientErrors: { count: number };
}

async function harness(
  name: string,
  args: string[],
  options: RedisOptions = RECOMMENDED_REDIS_OPTIONS,
): Promise<Harness> {
  const server = await startRedisServer({ args });
  const client = new Redis(server.url, { ...options });
  const clientErrors = countErrors(client);
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  countErrors(admin);
  await until('the app client is ready', async () => client.status === 'ready');
  const t = makeApp({ redis: client, registry: true, rolling: true });
  const listening = await listen(t.app);
  const http = new HttpClient(listening.port, USERS + 4);
  return { server, client, admin, t, load: new Load(http, USERS, name), http, listening, clientErrors };
}

async function teardown(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.load.stop();
  h.http.close();
  await h.listening.close();
  h.client.disconnect();
  h.admin.disconnect();
  await h.server.stop();
}

async function killAndWait(server: RedisServer): Promise<void> {
  const gone = new Promise((resolve) => server.process.once('exit', resolve));
  server.signal('SIGKILL');
  await gone;
}

interface Cycle {
  down: number;
  back: number;
  recovery: { first: number; all: number };
}

/** Runs `cycles` faults: inject, hold until every user saw it, lift, wait until every user recovered. */
async function cycles(
  h: Harness,
  inject: () => Promise<void>,
  lift: () => Promise<void>,
  count = CYCLES,
): Promise<Cycle[]> {
  const done: Cycle[] = [];
  const { load } = h;
  load.start();
  for (let i = 0; i < count; i++) {
    const acked = load.vus.map((vu) => vu.acked);
    const explain = () => ({ figures: load.figures(), acked: load.vus.map((vu) => vu.acked) });
    await until(
      'every user acknowledged writes',
      async () => load.vus.every((vu, j) => vu.acked >= acked[j]! + 3),
      15_000,
      explain,
    );
    const down = load.now();
    await inject();
    await until(
      'every user saw the outage',
      async () => load.everyoneUnavailableSince(down, HOLD),
      15_000,
      explain,
    );
    await lift();
    const back = load.now();
    await until('every user recovered', async () => load.everyoneOkSince(back, SETTLE), 20_000, explain);
    done.push({ down, back, recovery: load.recovery(back) });
  }
  await load.stop();
  // A last read of every session, after the load: the acknowledged counter must be there.
  for (const vu of load.vus) await load.step(vu, 'read');
  return done;
}

/** Ended sessions stay ended: each cookie a user saw die is presented again by a fresh browser. */
async function assertEndedStayEnded(h: Harness): Promise<number> {
  let probed = 0;
  for (const vu of h.load.vus) {
    for (const value of vu.ended) {
      const reply = await h.http.send('GET', '/whoami', signedCookie(value));
      expect(reply.body.userId, `${value} signed in again`).to.equal(null);
      probed += 1;
    }
  }
  return probed;
}

/** 503s after every user had recovered, before the next fault: Redis was there, the request failed anyway. */
function late503(h: Harness, done: Cycle[]): number {
  return done.reduce((sum, c, i) => {
    const settled = c.back + c.recovery.all;
    return sum + h.load.count('unavailable', settled, done[i + 1]?.down ?? Number.POSITIVE_INFINITY);
  }, 0);
}

function assertClean(h: Harness, done: Cycle[], options: { sessionsKept: boolean }): void {
  const f = h.load.figures();
  expect(h.load.problems(['unexpected', 'client-error', 'foreign', 'lost-write'])).to.deep.equal([]);
  expect(f.unavailable, 'the fault was observed').to.be.greaterThan(0);
  expect(late503(h, done), '503s once Redis was back and every user had recovered').to.equal(0);
  for (const c of done) expect(c.recovery.all, 'every user recovered').to.be.lessThan(5_000);
  if (options.sessionsKept) expect(h.load.problems(['lost-session'])).to.deep.equal([]);
}

function report(name: string, h: Harness, done: Cycle[], extra: Record<string, unknown> = {}): void {
  const f = h.load.figures();
  const worst = (key: 'first' | 'all') => Math.max(...done.map((c) => c.recovery[key]));
  record(`redis faults, ${name}`, {
    users: USERS,
    cycles: done.length,
    requests: f.requests,
    ok: f.ok,
    status503: f.unavailable,
    other5xx: f.unexpected,
    clientErrors: f.clientErrors,
    foreign: f.foreign,
    acknowledgedWrites: f.acknowledgedWrites,
    lostWrites: f.lostWrites,
    lostSessions: f.lostSessions,
    outageMs: Math.max(...done.map((c) => c.back - c.down)),
    recoveryFirstMs: worst('first'),
    recoveryAllMs: worst('all'),
    fail503p50ms: f.unavailableP50ms,
    fail503MaxMs: f.unavailableMaxMs,
    late503: late503(h, done),
    ioredisErrorEvents: h.clientErrors.count,
    ...extra,
  });
}

describe('Redis faults under load (invariant 8)', function () {
  this.timeout(120_000);
  let h: Harness | undefined;

  afterEach(async () => {
    await teardown(h);
    h = undefined;
    await closeClients();
  });

  it('kill -9 and restart, with appendfsync always: 503 while down, every acknowledged write and session kept', async () => {
    h = await harness('kill-aof', ['--appendonly', 'yes', '--appendfsync', 'always']);
    const server = h.server;
    const done = await cycles(
      h,
      () => killAndWait(server),
      () => server.restart(),
    );
    report('kill -9 + restart (AOF always)', h, done);
    assertClean(h, done, { sessionsKept: true });
  });

  it('kill -9 and restart, no persistence: sessions are lost with Redis, and fail closed', async () => {
    h = await harness('kill-empty', []);
    const server = h.server;
    const done = await cycles(
      h,
      () => killAndWait(server),
      () => server.restart(),
    );
    const probed = await assertEndedStayEnded(h);
    report('kill -9 + restart (no persistence)', h, done, { endedCookiesProbed: probed });
    assertClean(h, done, { sessionsKept: false });
    expect(h.load.figures().lostSessions, 'every user lost its session with the data').to.be.at.least(USERS);
  });

  it('SIGSTOP then SIGCONT: requests fail within the command timeout, nothing is lost', async () => {
    h = await harness('pause', []);
    const server = h.server;
    const done = await cycles(
      h,
      async () => server.signal('SIGSTOP'),
      async () => server.signal('SIGCONT'),
    );
    report('SIGSTOP + SIGCONT', h, done);
    assertClean(h, done, { sessionsKept: true });
    expect(h.load.figures().unavailableMaxMs).to.be.lessThan(
      RECOMMENDED_REDIS_OPTIONS.commandTimeout + 1_000,
    );
  });

  it('maxmemory with noeviction: OOM refusals are 503s, and requests succeed again once memory is freed', async () => {
    h = await harness('oom', ['--maxmemory-policy', 'noeviction']);
    const { admin } = h;
    let filled = 0;
    const done = await cycles(
      h,
      async () => {
        const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
        await admin.config('SET', 'maxmemory', String(used + 1_000_000));
        const filler = 'f'.repeat(1_000);
        for (;;) {
          const pipeline = admin.pipeline();
          for (let i = 0; i < 200; i++) pipeline.set(`filler:${filled++}`, filler, 'EX', 600);
          const results = (await pipeline.exec()) ?? [];
          if (results.some(([error]) => error && /OOM/.test(error.message))) break;
        }
        // Full, and kept full: expiries and the allocator must not let writes through again.
        const full = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
        await admin.config('SET', 'maxmemory', String(full - 100_000));
      },
      async () => {
        await admin.config('SET', 'maxmemory', '0');
      },
    );
    report('maxmemory, noeviction', h, done, { fillerKeys: filled });
    assertClean(h, done, { sessionsKept: true });
  });

  it('maxmemory with allkeys-lru under load: evicted sessions fail closed, kept ones lose no acknowledged write', async () => {
    h = await harness('lru', ['--maxmemory-policy', 'allkeys-lru']);
    const { admin, load } = h;
    load.start();
    await until('every user acknowledged writes', async () => load.vus.every((vu) => vu.acked >= 3));
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.config('SET', 'maxmemory', String(used + 1_000_000));
    const filler = 'f'.repeat(1_000);
    const target = scale(5_000, 50_000);
    let filled = 0;
    let evicted = 0;
    while (evicted < target) {
      const pipeline = admin.pipeline();
      for (let i = 0; i < 200; i++) pipeline.set(`filler:${filled++}`, filler, 'EX', 600);
      await pipeline.exec();
      evicted = Number(/evicted_keys:(\d+)/.exec(await admin.info('stats'))![1]);
    }
    const settled = load.now();
    await until('every user is served after the eviction storm', async () =>
      load.everyoneOkSince(settled, SETTLE),
    );
    await load.stop();
    for (const vu of load.vus) await load.step(vu, 'read');
    const probed = await assertEndedStayEnded(h);
    const f = load.figures();
    record('redis faults, maxmemory allkeys-lru', {
      users: USERS,
      requests: f.requests,
      ok: f.ok,
      status503: f.unavailable,
      other5xx: f.unexpected,
      clientErrors: f.clientErrors,
      foreign: f.foreign,
      acknowledgedWrites: f.acknowledgedWrites,
      lostWrites: f.lostWrites,
      sessionsEvicted: f.lostSessions,
      keysEvicted: evicted,
      fillerKeys: filled,
      endedCookiesProbed: probed,
    });
    expect(load.problems(['unexpected', 'client-error', 'foreign', 'lost-write'])).to.deep.equal([]);
    expect(evicted).to.be.at.least(target);
  });

  it('for comparison, ioredis defaults: a paused Redis leaves every request hanging for the whole pause', async () => {
    // No command timeout, offline queue on: nothing fails, nothing answers, until Redis resumes.
    h = await harness('defaults', [], {});
    const { server, load } = h;
    load.start();
    await until('every user acknowledged writes', async () => load.vus.every((vu) => vu.acked >= 3));
    const down = load.now();
    server.signal('SIGSTOP');
    const hang = scale(1_000, 5_000);
    await until(
      'every user has waited through the pause',
      async () => load.everyoneWaitingFor(hang),
      15_000,
      () => ({ now: load.now(), inflight: [...load.inflightSince], f: load.figures() }),
    );
    server.signal('SIGCONT');
    const back = load.now();
    await until('every user recovered', async () => load.everyoneOkSince(back, SETTLE));
    await load.stop();
    const f = load.figures();
    const longest = Math.max(...load.answeredMs);
    record('redis faults, SIGSTOP with ioredis defaults', {
      users: USERS,
      outageMs: back - down,
      status503: f.unavailable,
      longestRequestMs: longest,
      lostWrites: f.lostWrites,
    });
    expect(
      load.problems(['unexpected', 'client-error', 'foreign', 'lost-write', 'lost-session']),
    ).to.deep.equal([]);
    expect(f.unavailable, 'no request failed').to.equal(0);
    expect(longest, 'requests hung for the pause').to.be.at.least(hang);
  });
});
