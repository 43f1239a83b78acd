// Read and write paths over HTTP: each variant in its own app process, warmed up, then interleaved per round.
import { Redis } from 'ioredis';
import type { VariantSpec } from './apps.js';
import { benchUser } from './fixtures.js';
import { type LoadResult, load, signIn, visitAnonymously } from './load.js';
import { type AppProcess, privateRedis, startApp } from './processes.js';
import { type CommandStat, commandStats, redisCpuMicros } from './redis-info.js';
import { median, sameRoundRatio } from './stats.js';

export interface HttpVariant {
  id: string;
  label: string;
  spec: VariantSpec;
}

export interface HttpPlan {
  path: string;
  method: 'GET' | 'POST';
  /**
   * Who each connection is: a signed-in user (one per connection, cookies replayed), an anonymous
   * visitor whose first request stored data, or a new visitor with no cookie (login).
   */
  visitor: 'signed-in' | 'anonymous' | 'new';
  connections: number;
  warmup: number;
  rounds: number;
  duration: number;
}

/** Lua scripts run per request (INFO commandstats), the calls a read must not make. */
const SCRIPT_COMMANDS = ['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro'];

/** Requests of the exact count: a fixed number, so that no request is in flight when it ends. */
const EXACT_REQUESTS = 2000;

function scriptCalls(stats: Record<string, CommandStat>): number {
  return SCRIPT_COMMANDS.reduce((sum, name) => sum + (stats[name]?.calls ?? 0), 0);
}

export interface HttpRound extends LoadResult {
  commandsPerRequest: number;
  scriptsPerRequest: number;
  appCpuMicrosPerRequest: number;
  redisCpuMicrosPerRequest: number;
  commandStats: Record<string, CommandStat>;
}

export interface HttpVariantResult {
  id: string;
  label: string;
  rounds: HttpRound[];
  rps: number;
  p50: number;
  p99: number;
  /**
   * Commands the app's client sent per request, counted exactly over EXACT_REQUESTS requests. A
   * timed round's count also includes the requests still in flight when it stops (up to one per
   * connection), so it reads a little above the truth.
   */
  commandsPerRequest: number;
  /** Scripts per request over all timed rounds (INFO commandstats). */
  scriptsPerRequest: number;
  /** The exact count: requests, and the commands and scripts they caused. */
  exact: { requests: number; commands: number; scripts: number };
  appCpuMicrosPerRequest: number;
  redisCpuMicrosPerRequest: number;
  /** Bytes of the Cookie header the client sends back (session cookie and signature), median over connections. */
  cookieBytes: number;
  failures: number;
  /** INFO commandstats of the last round. */
  commandStats: Record<string, CommandStat>;
  /** Same-round ratios of req/s, keyed by the id of the variant compared against. */
  ratios: Record<string, number>;
}

export interface HttpSectionResult {
  plan: HttpPlan;
  variants: HttpVariantResult[];
}

async function measure(app: AppProcess, admin: Redis, plan: HttpPlan, cookies: string[], duration: number) {
  await admin.config('RESETSTAT');
  const before = await app.stats();
  const redisBefore = await redisCpuMicros(admin);
  const result = await load(app, {
    path: plan.path,
    method: plan.method,
    cookies,
    connections: plan.connections,
    duration,
  });
  const after = await app.stats();
  const redisAfter = await redisCpuMicros(admin);
  const stats = await commandStats(admin);
  const per = (value: number) => (result.requests > 0 ? value / result.requests : Number.NaN);
  const scripts = scriptCalls(stats);
  return {
    ...result,
    commandsPerRequest: per(after.commands - before.commands),
    scriptsPerRequest: per(scripts),
    appCpuMicrosPerRequest: per(after.cpuMicros - before.cpuMicros),
    redisCpuMicrosPerRequest: per(redisAfter - redisBefore),
    // What Redis ran for this variant (script inner commands are counted too), without our own probes.
    commandStats: Object.fromEntries(
      Object.entries(stats).filter(
        ([name]) => !/^(info|config\|resetstat|ping|hello|client\|.*)$/.test(name),
      ),
    ),
  };
}

/** Counts the commands and scripts of exactly `amount` requests: none is in flight at either end. */
async function countExactly(app: AppProcess, admin: Redis, plan: HttpPlan, cookies: string[]) {
  await admin.config('RESETSTAT');
  const before = await app.stats();
  const result = await load(app, {
    path: plan.path,
    method: plan.method,
    cookies,
    connections: plan.connections,
    amount: EXACT_REQUESTS,
  });
  const after = await app.stats();
  const stats = await commandStats(admin);
  if (result.requests !== EXACT_REQUESTS)
    throw new Error(`bench: exact count made ${result.requests} requests, not ${EXACT_REQUESTS}`);
  return {
    requests: result.requests,
    commands: after.commands - before.commands,
    scripts: scriptCalls(stats),
    failures: result.failures,
  };
}

/**
 * Runs one section on its own private Redis. Every variant gets a warm-up run first (JIT, connection
 * pools, script cache); then each round runs every variant once, in an order that shifts by one each
 * round so no variant always follows the same neighbour.
 */
export async function runHttpSection(
  name: string,
  variants: HttpVariant[],
  plan: HttpPlan,
  compareWith: string[],
  log: (line: string) => void,
): Promise<HttpSectionResult> {
  const redisServer = await privateRedis();
  const admin = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const apps: AppProcess[] = [];
  try {
    const started = await Promise.allSettled(
      variants.map((variant) => startApp({ ...variant.spec, redisUrl: redisServer.url })),
    );
    for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    // Ids of one length for every variant: this store's cookie spells the id, so its length counts.
    const cookies = await Promise.all(
      apps.map(async (app, v) => {
        const ids = Array.from({ length: plan.connections }, (_, i) => benchUser(100_000 * (v + 1) + i));
        if (plan.visitor === 'signed-in') return Promise.all(ids.map((user) => signIn(app, user)));
        if (plan.visitor === 'anonymous') return Promise.all(ids.map(() => visitAnonymously(app)));
        return [];
      }),
    );
    // A login's client starts with no cookie; the column shows the one its login hands back.
    const cookieBytes = await Promise.all(
      apps.map(async (app, v) => {
        const sent = cookies[v]!.length > 0 ? cookies[v]! : [await signIn(app, benchUser(900_000 + v))];
        return median(sent.map((cookie) => Buffer.byteLength(cookie)));
      }),
    );
    log(`${name}: warm-up, ${plan.warmup} s per variant`);
    for (const [v, app] of apps.entries()) await measure(app, admin, plan, cookies[v]!, plan.warmup);
    const rounds: HttpRound[][] = variants.map(() => []);
    for (let round = 0; round < plan.rounds; round++) {
      log(`${name}: round ${round + 1}/${plan.rounds}`);
      for (let k = 0; k < apps.length; k++) {
        const v = (round + k) % apps.length;
        rounds[v]!.push(await measure(apps[v]!, admin, plan, cookies[v]!, plan.duration));
      }
    }
    log(`${name}: exact command count, ${EXACT_REQUESTS} requests per variant`);
    const exact: Awaited<ReturnType<typeof countExactly>>[] = [];
    for (const [v, app] of apps.entries()) exact.push(await countExactly(app, admin, plan, cookies[v]!));
    const results = variants.map((variant, v): HttpVariantResult => {
      const counted = exact[v]!;
      const mine = rounds[v]!;
      const pick = (key: Exclude<keyof HttpRound, 'commandStats'>) => median(mine.map((r) => r[key]));
      const ratios: Record<string, number> = {};
      for (const other of compareWith) {
        const o = variants.findIndex((x) => x.id === other);
        if (o >= 0 && o !== v)
          ratios[other] = sameRoundRatio(
            mine.map((r) => r.rps),
            rounds[o]!.map((r) => r.rps),
          );
      }
      return {
        id: variant.id,
        label: variant.label,
        rounds: mine,
        rps: pick('rps'),
        p50: pick('p50'),
        p99: pick('p99'),
        commandsPerRequest: counted.commands / counted.requests,
        // Over all rounds, not a median: a script in any round must show.
        scriptsPerRequest:
          mine.reduce((sum, r) => sum + r.scriptsPerRequest * r.requests, 0) /
          Math.max(
            mine.reduce((sum, r) => sum + r.requests, 0),
            1,
          ),
        appCpuMicrosPerRequest: pick('appCpuMicrosPerRequest'),
        redisCpuMicrosPerRequest: pick('redisCpuMicrosPerRequest'),
        cookieBytes: cookieBytes[v]!,
        exact: { requests: counted.requests, commands: counted.commands, scripts: counted.scripts },
        failures: mine.reduce((sum, r) => sum + r.failures, counted.failures),
        commandStats: mine[mine.length - 1]?.commandStats ?? {},
        ratios,
      };
    });
    return { plan, variants: results };
  } finally {
    await Promise.all(apps.map((app) => app.stop()));
    admin.disconnect();
    await redisServer.stop();
  }
}
