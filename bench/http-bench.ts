// Read and write paths over HTTP: each variant in its own app process, warmed up, then interleaved per round.
import { Redis } from 'ioredis';
import type { VariantSpec } from './apps.js';
import { type LoadResult, load, signIn } from './load.js';
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
  /** Sign one user in per connection and replay the cookies; false for login, which starts anonymous. */
  signedIn: boolean;
  connections: number;
  warmup: number;
  rounds: number;
  duration: number;
}

export interface HttpRound extends LoadResult {
  commandsPerRequest: number;
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
  commandsPerRequest: number;
  appCpuMicrosPerRequest: number;
  redisCpuMicrosPerRequest: number;
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
  return {
    ...result,
    commandsPerRequest: per(after.commands - before.commands),
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
    const cookies = await Promise.all(
      apps.map(async (app, v) => {
        if (!plan.signedIn) return [];
        const users = Array.from({ length: plan.connections }, (_, i) => `${name}-${variants[v]!.id}-${i}`);
        return Promise.all(users.map((user) => signIn(app, user)));
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
    const results = variants.map((variant, v): HttpVariantResult => {
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
        commandsPerRequest: pick('commandsPerRequest'),
        appCpuMicrosPerRequest: pick('appCpuMicrosPerRequest'),
        redisCpuMicrosPerRequest: pick('redisCpuMicrosPerRequest'),
        failures: mine.reduce((sum, r) => sum + r.failures, 0),
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
